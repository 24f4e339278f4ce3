"""Validating every seed file, then writing all records in one transaction, upserted by slug."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlmodel import Session, col, select
from tqdm import tqdm

from app.models import Company, Need, Organisation, utcnow
from app.services.seeding.citations import load_sources
from app.services.seeding.companies import plan_companies
from app.services.seeding.loket import check_loket_rules
from app.services.seeding.needs import plan_needs
from app.services.seeding.organisations import plan_organisations
from app.services.seeding.records import SOURCES_FILE, SeedError

Outcome = Literal["created", "updated", "unchanged"]  # the counters of KindCounts


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

    def count(self, kind: str, outcome: Outcome) -> None:
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


@dataclass
class _Plan:
    organisations: list[dict[str, Any]] = field(default_factory=list)
    needs: list[dict[str, Any]] = field(default_factory=list)  # with "_owner" slug
    companies: list[dict[str, Any]] = field(default_factory=list)  # with "_kind"


def _validate(seed_dir: Path, demo: bool) -> _Plan:
    errors: list[str] = []
    try:
        line_counts = load_sources(seed_dir)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise SeedError(f"{SOURCES_FILE}: cannot read the list of source documents: {error}") from error
    org_slugs: dict[str, str] = {}
    plan = _Plan(
        organisations=plan_organisations(seed_dir, line_counts, org_slugs, errors),
        needs=plan_needs(seed_dir, line_counts, org_slugs, errors),
        companies=plan_companies(seed_dir, line_counts, demo=demo, errors=errors),
    )
    check_loket_rules(seed_dir, line_counts, set(org_slugs), plan.needs, errors)
    if errors:
        raise SeedError("the seed files are invalid; nothing was written:\n  - " + "\n  - ".join(errors))
    return plan


def _upsert(
    session: Session, model: type[Organisation | Need | Company], values: dict[str, Any]
) -> Outcome:
    existing = session.exec(select(model).where(col(model.slug) == values["slug"])).first()
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
    if isinstance(existing, Need | Company):  # organisations keep no change time
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
            report.count("organisation", _upsert(session, Organisation, values))
            bar.update()
        session.flush()
        org_ids = {org.slug: org.id for org in session.exec(select(Organisation)).all()}
        for values in plan.needs:
            owner = values.pop("_owner")
            values["owner_organisation_id"] = org_ids[owner] if owner else None
            report.count(values["kind"], _upsert(session, Need, values))
            bar.update()
        for values in plan.companies:
            kind = values.pop("_kind")
            report.count(kind, _upsert(session, Company, values))
            bar.update()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        bar.close()
    return report
