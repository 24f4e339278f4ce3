"""Needs: defence needs, programmes and clusters from ``seed/needs/*.yaml``, and the EU calls from
the Funding & Tenders CSV."""

import csv
from datetime import date
from pathlib import Path
from typing import Any

from app.domain import NeedKind, NeedStatus, Visibility
from app.services.seeding.citations import check_citation
from app.services.seeding.records import (
    CALLS_FILE,
    NEEDS_DIR,
    ORGANISATIONS_FILE,
    Record,
    check_keys,
    check_slug,
    member,
    read_yaml_list,
    string_list,
)
from app.taxonomy import get_taxonomy

CALL_URL = "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/topic-details/{}"
CALL_ATTRIBUTION = "Bron: European Commission, Funding & Tenders portal (CC BY 4.0)."
CALLS_OWNER = "european-commission"
INFERRED_NOTE = "NLD-gebieden afgeleid uit de brontekst; de bron kent ze niet zelf toe."

NEED_KEYS = {
    "required": {"slug", "title", "description", "kind", "source"},
    "optional": {"ref", "nld_areas", "nld_areas_inferred", "nld_areas_note", "sectors", "owner", "status",
                 "visibility", "eligible_regions", "deadline", "budget_eur", "budget_note", "url"},
}


def plan_needs(
    seed_dir: Path, line_counts: dict[str, int], org_slugs: dict[str, str], errors: list[str]
) -> list[dict[str, Any]]:
    """The needs' column values, each with the slug of its owner under ``"_owner"``."""
    slugs: dict[str, str] = {}
    # The calls are read first, so the YAML needs' citations of calls are checked against them.
    call_rows = _read_calls(seed_dir, errors)
    call_ids = {row["identifier"] for row in call_rows}
    planned = [
        _yaml_need(record, line_counts, call_ids, org_slugs, slugs, errors)
        for path in sorted((seed_dir / NEEDS_DIR).glob("*.yaml"))
        for record in read_yaml_list(path, seed_dir, errors)
        if check_keys(record, NEED_KEYS, errors)
    ]
    if call_rows and CALLS_OWNER not in org_slugs:
        errors.append(f"{CALLS_FILE}: the calls need the organisation {CALLS_OWNER!r} "
                      f"in {ORGANISATIONS_FILE}")
    for index, row in enumerate(call_rows):
        record = Record(CALLS_FILE, index, {"slug": row["identifier"].lower()})
        slug = check_slug(record, slugs, errors)
        planned.append(_call_to_need(row, slug, record, errors))
    return planned


def _yaml_need(
    record: Record,
    line_counts: dict[str, int],
    call_ids: set[str],
    org_slugs: dict[str, str],
    slugs: dict[str, str],
    errors: list[str],
) -> dict[str, Any]:
    taxonomy = get_taxonomy()
    data = record.data
    slug = check_slug(record, slugs, errors)
    kind = member(record, "kind", NeedKind, None, errors)
    nld = string_list(record, "nld_areas", taxonomy.nld_area_slugs, errors)
    sectors = string_list(record, "sectors", taxonomy.sector_slugs, errors)
    eligible = string_list(record, "eligible_regions", taxonomy.regions, errors)
    owner = data.get("owner")
    if owner is not None and owner not in org_slugs:
        errors.append(f"{record.where}: unknown owner {owner!r} (not in {ORGANISATIONS_FILE})")
    status = member(record, "status", NeedStatus, NeedStatus.open, errors)
    visibility = member(record, "visibility", Visibility, Visibility.public, errors)
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
    return {
        "slug": slug, "title": str(data["title"]).strip(), "description": description,
        "kind": kind, "nld_areas": nld, "sectors": sectors, "eligible_regions": eligible,
        "deadline": deadline, "budget_eur": budget, "budget_note": data.get("budget_note"),
        "url": data.get("url"), "status": status, "visibility": visibility,
        "source_ref": str(data["source"]).strip(), "_owner": owner,
    }


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


def _call_to_need(row: dict[str, str], slug: str | None, record: Record, errors: list[str]) -> dict[str, Any]:
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
        "slug": slug, "title": row["title"].strip()[:300], "description": description, "kind": NeedKind.call,
        "nld_areas": [], "sectors": ["veiligheid"], "eligible_regions": [], "deadline": deadline,
        "budget_eur": budget, "budget_note": budget_note, "url": CALL_URL.format(identifier),
        "status": NeedStatus.closed, "visibility": Visibility.public, "source_ref": f"{CALLS_FILE}: {identifier}",
        "_owner": CALLS_OWNER,
    }
