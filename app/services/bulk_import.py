"""Registering many companies at once from CSV or JSON lines.

Every record is validated exactly like a registration through the API; when any record is invalid
nothing is written and every problem is reported with its line number.
"""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.domain import CompanySource
from app.models import Company
from app.schemas import CompanyCreate

LIST_FIELDS = ("sectors", "nld_areas", "capabilities")
LIST_SEPARATOR = "|"
BATCH_SIZE = 500


@dataclass
class ImportReport:
    created: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw record) from a .csv (`,` or `;`, list fields separated by `|`) or .jsonl file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as error:
                        yield number, {"__error__": f"not valid JSON ({error.msg})"}
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        for number, row in enumerate(csv.DictReader(handle, delimiter=delimiter), start=2):
            record: dict[str, Any] = {key.strip(): (value or "").strip() for key, value in row.items() if key}
            for name in LIST_FIELDS:
                if name in record:
                    record[name] = [part.strip() for part in record[name].split(LIST_SEPARATOR) if part.strip()]
            if "employees" in record:
                record["employees"] = record["employees"] or None
            for name in ("consent", "consent_defence_contact", "weekly_match_mail"):
                if name in record:
                    record[name] = record[name].lower() in ("true", "ja", "yes", "1")
            yield number, {k: v for k, v in record.items() if v not in ("", None) or k in ("consent",)}


def validate(
    records: Iterator[tuple[int, dict[str, Any]]], existing_kvk: set[str]
) -> tuple[list[CompanyCreate], list[str]]:
    valid: list[CompanyCreate] = []
    problems: list[str] = []
    seen = set(existing_kvk)
    for number, record in records:
        if "__error__" in record:
            problems.append(f"line {number}: {record['__error__']}")
            continue
        try:
            company = CompanyCreate(**record)
        except ValidationError as error:
            for item in error.errors():
                where = ".".join(str(part) for part in item["loc"]) or "record"
                problems.append(f"line {number}: {where}: {item['msg'].removeprefix('Value error, ')}")
            continue
        if company.kvk_number in seen:
            problems.append(f"line {number}: kvk_number {company.kvk_number} is already registered or repeated")
            continue
        seen.add(company.kvk_number)
        valid.append(company)
    return valid, problems


def import_companies(
    session: Session, path: Path, *, source: CompanySource = CompanySource.adviser, progress: bool = False
) -> ImportReport:
    """Validates the whole file, then inserts in batches; writes nothing when any record is invalid."""
    from tqdm import tqdm

    registered = session.exec(select(Company.kvk_number).where(col(Company.kvk_number).is_not(None))).all()
    existing = {kvk_number for kvk_number in registered if kvk_number is not None}
    companies, problems = validate(read_records(path), existing)
    if problems:
        return ImportReport(problems=problems)
    bar = tqdm(total=len(companies), desc="importing companies", unit="company", disable=not progress)
    for start in range(0, len(companies), BATCH_SIZE):
        for company_in in companies[start:start + BATCH_SIZE]:
            # No edit token: nobody would see it. The company gets one from the desk if it wants to self-serve.
            session.add(Company(**company_in.model_dump(exclude={"consent"}), source=source))
        session.flush()
        bar.update(min(BATCH_SIZE, len(companies) - start))
    bar.close()
    return ImportReport(created=len(companies))
