"""Consortium suggestions for a call or a larger need: groups of companies that together cover its
parts (passages).

The candidates are the need's best-matching companies (the engine's ranking) that fit it at least
``fair`` (app/services/fit.py, the band every list goes by); each is scored per
part (app/matching/coverage.py). A company covers a part when its score there reaches ``COVERS``.
Groups are built greedily from different first members: each next member is the one that adds the
most parts nobody in the group covers yet, less a penalty for parts it only repeats, with a bonus
when it brings the mix the EDF rewards (a company with defence experience beside one without).
In a group, each covered part goes to the member that covers it best.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Row
from sqlmodel import Session

from app.core.errors import Conflict, InvalidInput
from app.domain import DefenceExperience, Fit
from app.matching.coverage import Part, parts_of, passage_coverage
from app.matching.engine import MatchEngine
from app.schemas_consortia import BestSingle, Consortia, Consortium, ConsortiumMember, CoveredPart, PartRef
from app.schemas_pipeline import CompanyRef
from app.services import companies as company_service
from app.services import feedback
from app.services import needs as need_service
from app.services.access import Caller
from app.services.fit import fits
from app.services.matchable import need_document

CANDIDATES = 40  # the need's best companies the groups are made from
MIN_FIT = Fit.fair  # by default a company fitting the need worse than this joins no group, whatever part it covers
COVERS = 0.5  # a company covers a part from this score on (0-1, scaled over the need's whole matrix)
OVERLAP_PENALTY = 0.25  # per part a new member covers that the group already covers
MIX_BONUS = 0.5  # for the member that brings defence experience, or its absence, to the group
SOFT_SHARE = 0.1  # how much a better score on an already covered part counts, per part
SUGGESTIONS = 5
MIN_PARTS = 2
QUOTE_CHARS = 220


@dataclass(frozen=True)
class Group:
    members: tuple[int, ...]  # rows of the coverage matrix
    covered: int
    overlap: int
    mixed: bool
    strength: float  # sum over parts of the group's best score


def suggest(
    *, session: Session, engine: MatchEngine, caller: Caller, need_id: int, size: int, include_closed: bool,
    min_fit: Fit = MIN_FIT,
) -> Consortia:
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    closed = need_service.is_closed(need)
    if closed and not include_closed:
        raise Conflict(f"need {need_id} is closed (gesloten) or past its deadline: its consortium suggestions are "
                       "shown with include_closed=true")
    document = need_document(need)
    parts = parts_of(engine, document)
    if len(parts) < MIN_PARTS:
        raise InvalidInput(f"need {need_id} has {len(parts)} part(s): consortia are suggested for calls and needs "
                           f"of at least {MIN_PARTS} parts (passages)")
    dismissed = feedback.dismissed_company_ids(session, caller, need_id)
    ranked = engine.match(document, target="company", excluded_ids=dismissed, limit=CANDIDATES)
    candidates = [match.id for match in ranked if fits(match.score, min_fit)]
    coverage = passage_coverage(engine, document, candidates)
    rows = company_service.rows_by_id(session=session, company_ids=list(coverage.company_ids) if coverage else [])
    if coverage is None or not rows:
        return Consortia(items=[], total_parts=len(parts), best_single=None, closed=closed)
    keep = [i for i, company_id in enumerate(coverage.company_ids) if company_id in rows]
    refs = [_ref(rows[coverage.company_ids[i]]) for i in keep]
    scores = coverage.scores[keep]
    experienced = [ref.defence_experience != DefenceExperience.none for ref in refs]
    groups = choose_groups(scores, experienced, size)
    covered_alone = (scores >= COVERS).sum(axis=1)
    best = int(np.argmax(covered_alone))
    quotes = [coverage.quotes[i] for i in keep]
    return Consortia(
        items=[_consortium(group, scores, refs, quotes, coverage.parts, experienced) for group in groups],
        total_parts=len(parts),
        best_single=BestSingle(company=refs[best], covered_parts=int(covered_alone[best])),
        closed=closed,
    )


def choose_groups(scores: np.ndarray, experienced: list[bool], size: int, limit: int = SUGGESTIONS) -> list[Group]:
    """Up to ``limit`` distinct groups of up to ``size`` companies (rows of ``scores``), best first:
    most parts covered, then the defence mix, then the strongest cover, then the least overlap."""
    covers = scores >= COVERS
    order = sorted(range(len(scores)), key=lambda row: (-int(covers[row].sum()), -float(scores[row].sum())))
    groups: dict[frozenset[int], Group] = {}
    for first in order[: limit * 2]:
        group = _grow([first], scores, covers, experienced, size)
        if len(group.members) >= 2:
            groups.setdefault(frozenset(group.members), group)
        if len(groups) == limit:
            break
    return sorted(groups.values(), key=lambda g: (-g.covered, not g.mixed, -g.strength, g.overlap))[:limit]


def _grow(members: list[int], scores: np.ndarray, covers: np.ndarray, experienced: list[bool], size: int) -> Group:
    while len(members) < size:
        covered = covers[members].any(axis=0)
        best_scores = scores[members].max(axis=0)
        has = {experienced[m] for m in members}
        best_row, best_gain = None, 0.0
        for row in range(len(scores)):
            if row in members:
                continue
            new_parts = int((covers[row] & ~covered).sum())
            if not new_parts:
                continue  # a member must bring a part the group lacks
            repeated = int((covers[row] & covered).sum())
            lift = float(np.clip(scores[row] - best_scores, 0, None).sum())
            gain = new_parts - OVERLAP_PENALTY * repeated + SOFT_SHARE * lift
            if experienced[row] not in has:
                gain += MIX_BONUS
            if gain > best_gain:
                best_row, best_gain = row, gain
        if best_row is None:
            break
        members.append(best_row)
    return _measured(tuple(members), scores, covers, experienced)


def _measured(members: tuple[int, ...], scores: np.ndarray, covers: np.ndarray, experienced: list[bool]) -> Group:
    per_part = covers[list(members)].sum(axis=0)
    return Group(
        members=members, covered=int((per_part > 0).sum()), overlap=int((per_part > 1).sum()),
        mixed=len({experienced[m] for m in members}) == 2, strength=float(scores[list(members)].max(axis=0).sum()),
    )


def _consortium(
    group: Group, scores: np.ndarray, refs: list[CompanyRef], quotes: list[tuple[str, ...]], parts: tuple[Part, ...],
    experienced: list[bool],
) -> Consortium:
    members = list(group.members)
    best_member = np.asarray(members)[scores[members].argmax(axis=0)]  # per part, the member that covers it best
    covered: np.ndarray = np.asarray((scores[members] >= COVERS).any(axis=0))
    out = []
    for member in members:
        mine = [p for p in range(len(parts)) if covered[p] and best_member[p] == member]
        out.append(ConsortiumMember(company=refs[member], parts=[
            CoveredPart(index=p, quote=_quote(parts[p].text), company_quote=_quote(quotes[member][p]),
                        score=round(float(scores[member, p]), 3)) for p in mine]))
    uncovered = [PartRef(index=p, quote=_quote(parts[p].text)) for p in range(len(parts)) if not covered[p]]
    with_experience = any(experienced[m] for m in members)
    without = not all(experienced[m] for m in members)
    return Consortium(
        members=out, covered_parts=group.covered, total_parts=len(parts), overlap_parts=group.overlap,
        uncovered=uncovered, with_defence_experience=with_experience, without_defence_experience=without,
        why=_why(group, len(parts), with_experience, without),
    )


def _why(group: Group, total: int, with_experience: bool, without: bool) -> str:
    mix = ("met én zonder defensie-ervaring" if with_experience and without
           else "allemaal met defensie-ervaring" if with_experience else "allemaal zonder defensie-ervaring")
    overlap = f", {group.overlap} deel/delen dubbel gedekt" if group.overlap else ", zonder overlap"
    return f"Samen dekken deze {len(group.members)} bedrijven {group.covered} van de {total} delen{overlap}; {mix}."


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def _ref(row: Row[Any]) -> CompanyRef:
    return CompanyRef(id=row.id, name=row.name, municipality=row.municipality,
                      defence_experience=row.defence_experience)
