"""The organisations that own needs or that users belong to, from ``seed/organisations.yaml``."""

from pathlib import Path
from typing import Any

from app.domain import OrganisationKind
from app.services.seeding.citations import check_citation
from app.services.seeding.records import ORGANISATIONS_FILE, check_keys, check_slug, member, read_yaml_list

ORGANISATION_KEYS = {"required": {"slug", "name", "kind", "description", "source"}, "optional": {"url"}}


def plan_organisations(
    seed_dir: Path, line_counts: dict[str, int], slugs: dict[str, str], errors: list[str]
) -> list[dict[str, Any]]:
    """The organisations' column values; ``slugs`` collects where each slug was seen."""
    planned = []
    for record in read_yaml_list(seed_dir / ORGANISATIONS_FILE, seed_dir, errors):
        data = record.data
        if not check_keys(record, ORGANISATION_KEYS, errors):
            continue
        slug = check_slug(record, slugs, errors)
        kind = member(record, "kind", OrganisationKind, None, errors)
        if problem := check_citation(data["source"], line_counts):
            errors.append(f"{record.where}: source {problem}")
        planned.append({
            "slug": slug, "name": str(data["name"]).strip(), "kind": kind,
            "description": str(data["description"]).strip(), "url": data.get("url"),
            "source_ref": str(data["source"]).strip(),
        })
    return planned
