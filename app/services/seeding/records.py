"""Reading the seed files and checking their records' fields; every problem is collected with the
file and record it belongs to, so one run names them all."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from app.core.errors import KoppelkansError

ORGANISATIONS_FILE = "organisations.yaml"
NEEDS_DIR = "needs"
COMPANIES_FILE = "companies.yaml"
DEMO_COMPANIES_FILE = "demo/companies.yaml"
CALLS_FILE = "eu_calls_2024_defence_security.csv"
SOURCES_FILE = "sources.yaml"

MAX_LENGTHS = {"title": 300, "name": 200, "source": 300, "budget_note": 300, "url": 1000,
               "contact_name": 200, "contact_email": 320}
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

E = TypeVar("E", bound=StrEnum)


class SeedError(KoppelkansError):
    """The seed files are invalid; the message names every file and record at fault."""

    status_code = 422


@dataclass
class Record:
    file: str
    index: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        slug = self.data.get("slug") if isinstance(self.data, dict) else None
        return f"{self.file}, record {self.index + 1}" + (f" ({slug})" if slug else "")


def read_yaml_list(path: Path, seed_dir: Path, errors: list[str]) -> list[Record]:
    name = path.relative_to(seed_dir).as_posix()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        errors.append(f"{name}: not valid YAML: {error}")
        return []
    if data is None:
        return []
    if not isinstance(data, list):
        errors.append(f"{name}: expected a list of records at the top level")
        return []
    records = []
    for index, item in enumerate(data):
        record = Record(name, index, item)
        if not isinstance(item, dict):
            errors.append(f"{record.where}: expected a mapping of fields")
            continue
        records.append(record)
    return records


def check_keys(record: Record, keys: dict[str, set[str]], errors: list[str]) -> bool:
    """Reports missing and unknown fields and over-long texts; False when a required field is missing."""
    data = record.data
    missing = sorted(k for k in keys["required"] if data.get(k) in (None, ""))
    unknown = sorted(set(data) - keys["required"] - keys["optional"])
    if missing:
        errors.append(f"{record.where}: missing {', '.join(missing)}")
    if unknown:
        errors.append(f"{record.where}: unknown field(s) {', '.join(unknown)}")
    for key, limit in MAX_LENGTHS.items():
        if isinstance(data.get(key), str) and len(data[key]) > limit:
            errors.append(f"{record.where}: {key} is longer than {limit} characters")
    return not missing


def string_list(record: Record, key: str, allowed: Iterable[str] | None, errors: list[str]) -> list[str]:
    value = record.data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{record.where}: {key} must be a list of non-empty strings")
        return []
    if allowed is not None:
        known = set(allowed)
        unknown = [v for v in value if v not in known]
        if unknown:
            errors.append(f"{record.where}: unknown {key} {', '.join(map(repr, unknown))}")
    return [v.strip() for v in value]


def member(record: Record, key: str, enum: type[E], default: E | None, errors: list[str]) -> E:
    """The record's value of ``key`` as a member of ``enum`` (``default`` when absent)."""
    value = record.data.get(key)
    if value is None and default is not None:
        return default
    try:
        return enum(str(value))
    except ValueError:
        errors.append(f"{record.where}: {key} {value!r} is not one of {sorted(m.value for m in enum)}")
        return next(iter(enum))  # the record is refused; the plan only needs a value to continue


def check_slug(record: Record, seen: dict[str, str], errors: list[str]) -> str | None:
    slug = record.data.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug) or len(slug) > 100:
        errors.append(f"{record.where}: slug {slug!r} must be lower-case words joined by '-' (at most 100)")
        return None
    if slug in seen:
        errors.append(f"{record.where}: duplicate slug {slug!r} (also in {seen[slug]})")
        return None
    seen[slug] = record.where
    return slug
