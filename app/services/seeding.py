"""Loading the seed data in ``seed/``: organisations, needs (defence needs, programmes, clusters, EU calls)
and companies named in the Drenthe documents, plus optional fictitious demo companies.

``load_seed`` first validates every file (taxonomy slugs, municipalities, owners, duplicate slugs, source
citations) and writes nothing if anything is wrong; then it upserts every record by its slug in one
transaction. Running it twice changes nothing; a corrected file updates the records it corrects.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select
from tqdm import tqdm

from app.core.errors import KoppelkansError
from app.models import Company, Need, Organisation, utcnow
from app.services import loket_rules
from app.taxonomy import get_taxonomy

ORGANISATIONS_FILE = "organisations.yaml"
NEEDS_DIR = "needs"
COMPANIES_FILE = "companies.yaml"
DEMO_COMPANIES_FILE = "demo/companies.yaml"
CALLS_FILE = "eu_calls_2024_defence_security.csv"
SOURCES_FILE = "sources.yaml"

CALL_URL = "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/{}"
CALL_ATTRIBUTION = "Bron: European Commission, Funding & Tenders portal (CC BY 4.0)."
CALLS_OWNER = "european-commission"
INFERRED_NOTE = "NLD-gebieden afgeleid uit de brontekst; de bron kent ze niet zelf toe."

ORGANISATION_KINDS = {"intermediary", "defence", "government", "knowledge", "network", "eu"}
DEFENCE_EXPERIENCE = {"none", "indirect", "supplier"}
NEED_STATUSES = {"open", "closed"}
VISIBILITIES = {"public", "staff"}
DEMO_KVK_RANGE = range(90000000, 90000100)
MAX_LENGTHS = {"title": 300, "name": 200, "source": 300, "budget_note": 300, "url": 1000,
               "contact_name": 200, "contact_email": 320}
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ORGANISATION_KEYS = {"required": {"slug", "name", "kind", "description", "source"}, "optional": {"url"}}
NEED_KEYS = {
    "required": {"slug", "title", "description", "kind", "source"},
    "optional": {"ref", "nld_areas", "nld_areas_inferred", "nld_areas_note", "sectors", "owner", "status",
                 "visibility", "eligible_regions", "deadline", "budget_eur", "budget_note", "url"},
}
COMPANY_KEYS = {
    "required": {"slug", "name", "description", "source"},
    "optional": {"municipality", "sectors", "nld_areas", "capabilities", "defence_experience", "employees"},
}
DEMO_COMPANY_KEYS = {
    "required": {"slug", "name", "description", "fictitious", "municipality", "kvk_number", "contact_email",
                 "source"},
    "optional": COMPANY_KEYS["optional"] | {"contact_name", "contact_phone", "consent_matching",
                                            "consent_defence_contact", "website"},
}

# "002:306-312", "002:747-773, 884; 004:54" — a document prefix, then line numbers or ranges.
_CITATION_PART = re.compile(r"^(\d{3}):\s*(\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)$")
_CALL_CITATION = re.compile(r"^" + re.escape(CALLS_FILE) + r":\s*(\S+)$")


class SeedError(KoppelkansError):
    """The seed files are invalid; the message names every file and record at fault."""

    status_code = 422


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class SeedReport:
    """What one run did per kind (organisation, defence_need, programme, cluster, call, company,
    demo_company)."""

    counts: dict[str, KindCounts] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        counts = self.counts.setdefault(kind, KindCounts())
        setattr(counts, outcome, getattr(counts, outcome) + 1)

    @property
    def created(self) -> int:
        return sum(c.created for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.counts.values())

    def __str__(self) -> str:
        width = max((len(kind) for kind in self.counts), default=10)
        lines = [f"{'kind':<{width}}  created  updated  unchanged"]
        for kind, c in self.counts.items():
            lines.append(f"{kind:<{width}}  {c.created:>7}  {c.updated:>7}  {c.unchanged:>9}")
        lines.append(f"{'total':<{width}}  {self.created:>7}  {self.updated:>7}  {self.unchanged:>9}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Citations


@dataclass(frozen=True)
class LineCitation:
    prefix: str
    first: int
    last: int


def parse_citation(text: str) -> list[LineCitation]:
    """Parse a document citation such as ``"002:747-773, 884; 004:54"``; raise ValueError if malformed."""
    citations: list[LineCitation] = []
    for part in (p.strip() for p in text.split(";")):
        match = _CITATION_PART.match(part)
        if not match:
            raise ValueError(f"citation {part!r} is not of the form '002:306-312' or '002:306-312, 400'")
        prefix, numbers = match.groups()
        for item in numbers.split(","):
            bounds = [int(n) for n in item.split("-")]
            first, last = bounds[0], bounds[-1]
            if first < 1 or last < first:
                raise ValueError(f"citation {part!r} has an empty or reversed line range {item.strip()!r}")
            citations.append(LineCitation(prefix, first, last))
    return citations


def load_sources(seed_dir: Path) -> dict[str, int]:
    """Document prefix → number of lines, from ``seed/sources.yaml``."""
    data = yaml.safe_load((seed_dir / SOURCES_FILE).read_text(encoding="utf-8")) or {}
    return {str(prefix): int(doc["lines"]) for prefix, doc in (data.get("documents") or {}).items()}


def check_citation(text: Any, line_counts: dict[str, int], call_ids: set[str] | None = None) -> str | None:
    """Return a message saying what is wrong with a ``source`` value, or None if it is sound."""
    if not isinstance(text, str) or not text.strip():
        return "has no source citation"
    call = _CALL_CITATION.match(text.strip())
    if call:
        if call_ids is not None and call.group(1) not in call_ids:
            return f"cites call {call.group(1)!r}, which is not in {CALLS_FILE}"
        return None
    try:
        citations = parse_citation(text)
    except ValueError as error:
        return str(error)
    for citation in citations:
        lines = line_counts.get(citation.prefix)
        if lines is None:
            return f"cites document {citation.prefix!r}, which {SOURCES_FILE} does not list"
        if citation.last > lines:
            return (f"cites {citation.prefix}:{citation.last}, "
                    f"but document {citation.prefix} has {lines} lines")
    return None


# --------------------------------------------------------------------------------------------------
# Reading and validating


@dataclass
class _Record:
    file: str
    index: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        slug = self.data.get("slug") if isinstance(self.data, dict) else None
        return f"{self.file}, record {self.index + 1}" + (f" ({slug})" if slug else "")


@dataclass
class _Plan:
    organisations: list[dict[str, Any]] = field(default_factory=list)
    needs: list[dict[str, Any]] = field(default_factory=list)  # with "_owner" slug
    companies: list[dict[str, Any]] = field(default_factory=list)  # with "_kind"


def _read_yaml_list(path: Path, seed_dir: Path, errors: list[str]) -> list[_Record]:
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
        record = _Record(name, index, item)
        if not isinstance(item, dict):
            errors.append(f"{record.where}: expected a mapping of fields")
            continue
        records.append(record)
    return records


def _check_keys(record: _Record, keys: dict[str, set[str]], errors: list[str]) -> bool:
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


def _string_list(record: _Record, key: str, allowed: Iterable[str] | None, errors: list[str]) -> list[str]:
    value = record.data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{record.where}: {key} must be a list of non-empty strings")
        return []
    if allowed is not None:
        allowed = set(allowed)
        unknown = [v for v in value if v not in allowed]
        if unknown:
            errors.append(f"{record.where}: unknown {key} {', '.join(map(repr, unknown))}")
    return [v.strip() for v in value]


def _check_slug(record: _Record, seen: dict[str, str], errors: list[str]) -> str | None:
    slug = record.data.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug) or len(slug) > 100:
        errors.append(f"{record.where}: slug {slug!r} must be lower-case words joined by '-' (at most 100)")
        return None
    if slug in seen:
        errors.append(f"{record.where}: duplicate slug {slug!r} (also in {seen[slug]})")
        return None
    seen[slug] = record.where
    return slug


def _validate(seed_dir: Path, demo: bool) -> _Plan:
    errors: list[str] = []
    taxonomy = get_taxonomy()
    nld_slugs, sector_slugs = taxonomy.nld_area_slugs, taxonomy.sector_slugs
    need_kinds = {kind["slug"] for kind in taxonomy.need_kinds}
    regions = set(taxonomy.regions)
    try:
        line_counts = load_sources(seed_dir)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise SeedError(f"{SOURCES_FILE}: cannot read the list of source documents: {error}") from error
    plan = _Plan()

    # Organisations
    org_slugs: dict[str, str] = {}
    for record in _read_yaml_list(seed_dir / ORGANISATIONS_FILE, seed_dir, errors):
        data = record.data
        if not _check_keys(record, ORGANISATION_KEYS, errors):
            continue
        slug = _check_slug(record, org_slugs, errors)
        if data["kind"] not in ORGANISATION_KINDS:
            errors.append(f"{record.where}: kind {data['kind']!r} is not one of {sorted(ORGANISATION_KINDS)}")
        if problem := check_citation(data["source"], line_counts):
            errors.append(f"{record.where}: source {problem}")
        plan.organisations.append({
            "slug": slug, "name": str(data["name"]).strip(), "kind": data["kind"],
            "description": str(data["description"]).strip(), "url": data.get("url"),
            "source_ref": str(data["source"]).strip(),
        })

    # Calls (read first so the need slugs of the YAML files are checked against them too)
    need_slugs: dict[str, str] = {}
    call_rows = _read_calls(seed_dir, errors)
    call_ids = {row["identifier"] for row in call_rows}

    # Needs from YAML
    for path in sorted((seed_dir / NEEDS_DIR).glob("*.yaml")):
        for record in _read_yaml_list(path, seed_dir, errors):
            data = record.data
            if not _check_keys(record, NEED_KEYS, errors):
                continue
            slug = _check_slug(record, need_slugs, errors)
            if data["kind"] not in need_kinds:
                errors.append(f"{record.where}: kind {data['kind']!r} is not one of {sorted(need_kinds)}")
            nld = _string_list(record, "nld_areas", nld_slugs, errors)
            sectors = _string_list(record, "sectors", sector_slugs, errors)
            eligible = _string_list(record, "eligible_regions", regions, errors)
            owner = data.get("owner")
            if owner is not None and owner not in org_slugs:
                errors.append(f"{record.where}: unknown owner {owner!r} (not in {ORGANISATIONS_FILE})")
            status, visibility = data.get("status", "open"), data.get("visibility", "public")
            if status not in NEED_STATUSES:
                errors.append(f"{record.where}: status {status!r} is not one of {sorted(NEED_STATUSES)}")
            if visibility not in VISIBILITIES:
                errors.append(f"{record.where}: visibility {visibility!r} is not one of "
                              f"{sorted(VISIBILITIES)}")
            budget = data.get("budget_eur")
            if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 0):
                errors.append(f"{record.where}: budget_eur must be a whole number of euros")
            deadline = data.get("deadline")
            if deadline is not None and not isinstance(deadline, date):
                errors.append(f"{record.where}: deadline must be a date (YYYY-MM-DD)")
            if problem := check_citation(data["source"], line_counts, call_ids):
                errors.append(f"{record.where}: source {problem}")
            description = str(data["description"]).strip()
            if data.get("nld_areas_inferred") and nld:
                description = f"{description}\n\n{INFERRED_NOTE}"
            plan.needs.append({
                "slug": slug, "title": str(data["title"]).strip(), "description": description,
                "kind": data["kind"], "nld_areas": nld, "sectors": sectors, "eligible_regions": eligible,
                "deadline": deadline, "budget_eur": budget, "budget_note": data.get("budget_note"),
                "url": data.get("url"), "status": status, "visibility": visibility,
                "source_ref": str(data["source"]).strip(), "_owner": owner,
            })

    # Needs from the calls CSV
    if call_rows and CALLS_OWNER not in org_slugs:
        errors.append(f"{CALLS_FILE}: the calls need the organisation {CALLS_OWNER!r} "
                      f"in {ORGANISATIONS_FILE}")
    for index, row in enumerate(call_rows):
        record = _Record(CALLS_FILE, index, {"slug": row["identifier"].lower()})
        slug = _check_slug(record, need_slugs, errors)
        plan.needs.append(_call_to_need(row, slug, record, errors))

    # Companies
    company_slugs: dict[str, str] = {}
    company_files = [(COMPANIES_FILE, "company", COMPANY_KEYS)]
    if demo:
        company_files.append((DEMO_COMPANIES_FILE, "demo_company", DEMO_COMPANY_KEYS))
    kvk_seen: dict[str, str] = {}
    for file_name, kind, keys in company_files:
        path = seed_dir / file_name
        if not path.exists():
            errors.append(f"{file_name}: file not found in {seed_dir}")
            continue
        for record in _read_yaml_list(path, seed_dir, errors):
            data = record.data
            if not _check_keys(record, keys, errors):
                continue
            slug = _check_slug(record, company_slugs, errors)
            municipality = data.get("municipality")
            if municipality is not None:
                found = taxonomy.municipality(str(municipality))
                if found is None:
                    errors.append(f"{record.where}: unknown municipality {municipality!r}")
                else:
                    municipality = found.name
            description = str(data["description"]).strip()
            if not 10 <= len(description) <= 10_000:
                errors.append(f"{record.where}: description must be 10 to 10,000 characters")
            experience = data.get("defence_experience", "none")
            if experience not in DEFENCE_EXPERIENCE:
                errors.append(f"{record.where}: defence_experience {experience!r} is not one of "
                              f"{sorted(DEFENCE_EXPERIENCE)}")
            employees = data.get("employees")
            if employees is not None and (not isinstance(employees, int) or employees < 0):
                errors.append(f"{record.where}: employees must be a whole number")
            values = {
                "slug": slug, "name": str(data["name"]).strip(), "description": description,
                "municipality": municipality, "employees": employees,
                "sectors": _string_list(record, "sectors", sector_slugs, errors),
                "nld_areas": _string_list(record, "nld_areas", nld_slugs, errors),
                "capabilities": _string_list(record, "capabilities", None, errors),
                "defence_experience": experience, "status": "active", "source": "seed", "_kind": kind,
            }
            if kind == "company":
                if problem := check_citation(data["source"], line_counts):
                    errors.append(f"{record.where}: source {problem}")
                values.update(source_ref=str(data["source"]).strip(), kvk_number=None, contact_name=None,
                              contact_email=None, contact_phone=None, website=None)
            else:
                kvk = str(data["kvk_number"])
                if data.get("fictitious") is not True:
                    errors.append(f"{record.where}: demo companies must say fictitious: true")
                if not (kvk.isdigit() and len(kvk) == 8 and int(kvk) in DEMO_KVK_RANGE):
                    errors.append(f"{record.where}: demo kvk_number {kvk!r} must be in 90000000-90000099")
                elif kvk in kvk_seen:
                    errors.append(f"{record.where}: duplicate kvk_number {kvk} (also in {kvk_seen[kvk]})")
                kvk_seen[kvk] = record.where
                email = str(data["contact_email"])
                if not email.endswith("@example.org"):
                    errors.append(f"{record.where}: demo contact_email must be an @example.org address")
                values.update(
                    source_ref=f"{DEMO_COMPANIES_FILE} (fictief)", kvk_number=kvk,
                    contact_name=data.get("contact_name"), contact_email=email,
                    contact_phone=data.get("contact_phone"), website=data.get("website"),
                    consent_matching=bool(data.get("consent_matching", True)),
                    consent_defence_contact=bool(data.get("consent_defence_contact", False)),
                )
            plan.companies.append(values)

    programme_slugs = {need["slug"] for need in plan.needs if need["kind"] == "programme"}
    errors += _loket_rule_problems(seed_dir, set(org_slugs), programme_slugs, line_counts)

    if errors:
        raise SeedError("the seed files are invalid; nothing was written:\n  - " + "\n  - ".join(errors))
    return plan


def _loket_rule_problems(
    seed_dir: Path, organisations: set[str], programmes: set[str], line_counts: dict[str, int]
) -> list[str]:
    """What is wrong with the loket's rules (seed/loket.yaml), if the folder has them."""
    if not (seed_dir / loket_rules.RULES_FILE).exists():
        return []
    try:
        rules = loket_rules.read_rules(seed_dir)
    except loket_rules.RulesError as error:
        return [error.detail]
    problems = loket_rules.problems_in(rules, organisations=organisations, programmes=programmes)
    for where, source in loket_rules.citations(rules):
        if problem := check_citation(source, line_counts):
            problems.append(f"{where}: source {problem}")
    return problems


def _read_calls(seed_dir: Path, errors: list[str]) -> list[dict[str, str]]:
    path = seed_dir / CALLS_FILE
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for index, row in enumerate(rows):
        if not (row.get("identifier") or "").strip() or not (row.get("title") or "").strip():
            errors.append(f"{CALLS_FILE}, row {index + 2}: missing identifier or title")
    return [row for row in rows if (row.get("identifier") or "").strip()]


def _call_to_need(
    row: dict[str, str], slug: str | None, record: _Record, errors: list[str]
) -> dict[str, Any]:
    identifier = row["identifier"].strip()
    deadline = None
    if (row.get("deadline") or "").strip():
        try:
            deadline = date.fromisoformat(row["deadline"].strip()[:10])
        except ValueError:
            errors.append(f"{record.where}: deadline {row['deadline']!r} is not an ISO date")
    budget, budget_note = None, None
    low, high = (row.get("budget_min") or "").strip(), (row.get("budget_max") or "").strip()
    try:
        if high or low:
            budget = int(float(high or low))
            low_value = int(float(low)) if low else budget
            budget_note = (f"€{budget:,}".replace(",", ".") if low_value == budget else
                           f"€{low_value:,} - €{budget:,}".replace(",", ".")) + " (Funding & Tenders portal)"
    except ValueError:
        errors.append(f"{record.where}: budget {low!r}/{high!r} is not a number")
    parts = (row.get("programme", "").strip(), row.get("action_type", "").strip(), identifier)
    header = " · ".join(part for part in parts if part)
    description = f"{header}\n\n{row.get('description', '').strip()}\n\n{CALL_ATTRIBUTION}".strip()
    return {
        "slug": slug, "title": row["title"].strip()[:300], "description": description, "kind": "call",
        "nld_areas": [], "sectors": ["veiligheid"], "eligible_regions": [], "deadline": deadline,
        "budget_eur": budget, "budget_note": budget_note, "url": CALL_URL.format(identifier),
        "status": "closed", "visibility": "public", "source_ref": f"{CALLS_FILE}: {identifier}",
        "_owner": CALLS_OWNER,
    }


# --------------------------------------------------------------------------------------------------
# Writing


def _upsert(session: Session, model: type, values: dict[str, Any], *, touch: bool) -> str:
    existing = session.exec(select(model).where(model.slug == values["slug"])).first()
    if existing is None:
        session.add(model(**values))
        return "created"
    changed = False
    for name, value in values.items():
        if getattr(existing, name) != value:
            setattr(existing, name, value)
            changed = True
    if not changed:
        return "unchanged"
    if touch:
        existing.updated_at = utcnow()
    session.add(existing)
    return "updated"


def load_seed(session: Session, seed_dir: Path, *, demo: bool = False, progress: bool = False) -> SeedReport:
    """Validate the seed files in ``seed_dir`` and upsert them by slug in one transaction.

    Raises ``SeedError`` (naming each file and record at fault) before writing anything if a file is
    invalid. Demo companies (``seed/demo/companies.yaml``) are loaded only with ``demo=True``.
    """
    seed_dir = Path(seed_dir)
    plan = _validate(seed_dir, demo)
    report = SeedReport()
    total = len(plan.organisations) + len(plan.needs) + len(plan.companies)
    bar = tqdm(total=total, desc="seed", unit="record", disable=not progress)
    try:
        for values in plan.organisations:
            report.count("organisation", _upsert(session, Organisation, values, touch=False))
            bar.update()
        session.flush()
        org_ids = {org.slug: org.id for org in session.exec(select(Organisation)).all()}
        for values in plan.needs:
            owner = values.pop("_owner")
            values["owner_organisation_id"] = org_ids[owner] if owner else None
            report.count(values["kind"], _upsert(session, Need, values, touch=True))
            bar.update()
        for values in plan.companies:
            kind = values.pop("_kind")
            report.count(kind, _upsert(session, Company, values, touch=True))
            bar.update()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        bar.close()
    return report
