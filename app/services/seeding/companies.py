"""Companies named in the Drenthe documents (``seed/companies.yaml``: no KvK number or contact
details), and the fictitious demo companies (``seed/demo/companies.yaml``) when asked for."""

from pathlib import Path
from typing import Any

from app.domain import CompanySource, CompanyStatus, DefenceExperience
from app.services.seeding.citations import check_citation
from app.services.seeding.records import (
    COMPANIES_FILE,
    DEMO_COMPANIES_FILE,
    Record,
    check_keys,
    check_slug,
    member,
    read_yaml_list,
    string_list,
)
from app.taxonomy import get_taxonomy

DEMO_KVK_RANGE = range(90000000, 90000100)

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


def plan_companies(
    seed_dir: Path, line_counts: dict[str, int], *, demo: bool, errors: list[str]
) -> list[dict[str, Any]]:
    """The companies' column values, each with the report's kind (company, demo_company) under ``"_kind"``."""
    company_files = [(COMPANIES_FILE, "company", COMPANY_KEYS)]
    if demo:
        company_files.append((DEMO_COMPANIES_FILE, "demo_company", DEMO_COMPANY_KEYS))
    slugs: dict[str, str] = {}
    kvk_seen: dict[str, str] = {}
    planned = []
    for file_name, kind, keys in company_files:
        path = seed_dir / file_name
        if not path.exists():
            errors.append(f"{file_name}: file not found in {seed_dir}")
            continue
        for record in read_yaml_list(path, seed_dir, errors):
            if not check_keys(record, keys, errors):
                continue
            values = _profile(record, slugs, errors) | {"_kind": kind}
            if kind == "company":
                values |= _documented(record, line_counts, errors)
            else:
                values |= _fictitious(record, kvk_seen, errors)
            planned.append(values)
    return planned


def _profile(record: Record, slugs: dict[str, str], errors: list[str]) -> dict[str, Any]:
    """What every seeded company has: the profile it is matched on."""
    taxonomy = get_taxonomy()
    data = record.data
    slug = check_slug(record, slugs, errors)
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
    experience = member(record, "defence_experience", DefenceExperience, DefenceExperience.none, errors)
    employees = data.get("employees")
    if employees is not None and (not isinstance(employees, int) or employees < 0):
        errors.append(f"{record.where}: employees must be a whole number")
    return {
        "slug": slug, "name": str(data["name"]).strip(), "description": description,
        "municipality": municipality, "employees": employees,
        "sectors": string_list(record, "sectors", taxonomy.sector_slugs, errors),
        "nld_areas": string_list(record, "nld_areas", taxonomy.nld_area_slugs, errors),
        "capabilities": string_list(record, "capabilities", None, errors),
        "defence_experience": experience, "status": CompanyStatus.active, "source": CompanySource.seed,
    }


def _documented(record: Record, line_counts: dict[str, int], errors: list[str]) -> dict[str, Any]:
    """A company from the documents: cited, and without personal data."""
    if problem := check_citation(record.data["source"], line_counts):
        errors.append(f"{record.where}: source {problem}")
    return {"source_ref": str(record.data["source"]).strip(), "kvk_number": None, "contact_name": None,
            "contact_email": None, "contact_phone": None, "website": None}


def _fictitious(record: Record, kvk_seen: dict[str, str], errors: list[str]) -> dict[str, Any]:
    """A demo company: a KvK number from the reserved range and an @example.org address."""
    data = record.data
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
    return {
        "source_ref": f"{DEMO_COMPANIES_FILE} (fictief)", "kvk_number": kvk,
        "contact_name": data.get("contact_name"), "contact_email": email,
        "contact_phone": data.get("contact_phone"), "website": data.get("website"),
        "consent_matching": bool(data.get("consent_matching", True)),
        "consent_defence_contact": bool(data.get("consent_defence_contact", False)),
    }
