"""The loket: a company's question gets its route at once, and is kept as a case on the desk's inbox.

The route is made of the loket's rules (``seed/loket.yaml``, see loket_rules.py) and the matching:
who helps and why, which programmes fit the company's phase (and the question's topics), and which
open needs and calls fit the question at least ``fair``. The answer is stored with the case, so the
asker and the desk read the same route later.
"""

import secrets
from datetime import date

from sqlmodel import Session, col, select

from app.domain import CaseEventKind, Fit, NeedKind, NeedStatus, Visibility
from app.matching.engine import MatchEngine
from app.matching.text import detect_language
from app.models import CaseEvent, LoketCase, Need, Organisation
from app.schemas import OrganisationRef
from app.schemas_loket import FittingNeed, FittingProgramme, Helper, QuestionAnswer, QuestionIn
from app.services import audit, match_views
from app.services.fit import fit_of
from app.services.loket_rules import (
    DeskRule,
    LoketRules,
    QuestionFacts,
    desks_for,
    facts_of,
    get_rules,
    programmes_for,
)
from app.services.matchable import NeedFilterCache
from app.services.matching import MatchingState
from app.taxonomy import get_taxonomy

# The needs a question is matched with: what Defence and others ask for, not programmes or clusters.
NEED_KINDS = (NeedKind.defence_need, NeedKind.call, NeedKind.challenge)
NEEDS_SHOWN = 5
MIN_FIT = Fit.fair
QUOTE_LENGTH = 300
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud over the phone
ASKER = "anonymous"

PHASE_PHRASES = {
    "idea": "in de ideefase",
    "start-up": "een start-up",
    "growth": "in de groeifase",
    "established": "een gevestigd bedrijf",
}
NO_NEEDS = "Er zijn nu geen open behoeften of calls die goed genoeg bij uw vraag passen."
NOT_READY = ("De zoekindex wordt nog opgebouwd, dus passende behoeften en calls ontbreken hier nog; de "
             "adviseur die uw vraag oppakt, zoekt ze voor u op.")
SWITCHED_OFF = "Het zoeken naar passende behoeften en calls is nu niet beschikbaar; de adviseur zoekt ze voor u op."


def ask(*, session: Session, question: QuestionIn, matching: MatchingState) -> tuple[LoketCase, QuestionAnswer]:
    """Answers a question with its route and keeps it as a new case (flushed, not committed).

    While the matching is not ready the needs are left out and the answer says why; the rest of
    the route does not need it.
    """
    rules = get_rules()
    facts = facts_of(rules, municipality=question.municipality, phase=question.phase, text=question.text)
    reference = _new_reference(session)
    helpers = _helpers(session, rules, facts)
    programmes = _programmes(session, rules, facts)
    needs: list[FittingNeed] = []
    if matching.ready:
        engine = matching.require_engine(session)
        with matching.match_slots:
            needs = _fitting_needs(session, engine, question.text, facts, matching.need_filters)
        needs_note = None if needs else NO_NEEDS
    else:
        needs_note = NOT_READY if not matching.error else SWITCHED_OFF
    phase_label = rules.phases[facts.phase].label
    answer = QuestionAnswer(
        reference=reference,
        summary=_summary(reference, phase_label, helpers),
        phase=facts.phase,
        phase_label=phase_label,
        helpers=helpers,
        no_helper_note=None if helpers else rules.no_desk,
        programmes=programmes,
        needs=needs,
        needs_note=needs_note,
    )
    case = LoketCase(
        reference=reference, text=question.text, language=detect_language(question.text),
        municipality=facts.municipality, kvk_number=question.kvk_number, phase=facts.phase,
        contact_email=str(question.contact_email), topics=sorted(facts.topics), route=answer.model_dump_json(),
    )
    session.add(case)
    session.flush()
    assert case.id is not None  # given by the flush
    session.add(CaseEvent(case_id=case.id, actor=ASKER, kind=CaseEventKind.asked,
                          note=f"vraag gesteld via het loket ({case.reference})"))
    audit.record(session, ASKER, "ask", "case", case.id)
    session.flush()
    return case, answer


def _new_reference(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        reference = f"LK-{code[:4]}-{code[4:]}"
        if session.exec(select(LoketCase.id).where(LoketCase.reference == reference)).first() is None:
            return reference


def _conditions_met(desk: DeskRule, facts: QuestionFacts, rules: LoketRules) -> str:
    """The facts of the question that made this desk's rule apply, as one Dutch sentence."""
    parts = []
    if desk.when.provinces or desk.when.regions:
        parts.append(f"uw bedrijf is gevestigd in {facts.municipality} ({facts.province})")
    if desk.when.phases:
        parts.append(f"u bent {PHASE_PHRASES[facts.phase]}")
    for topic in desk.when.topics:
        if topic in facts.topics:
            words = ", ".join(f"‘{word}’" for word in facts.topics[topic])
            parts.append(f"uw vraag gaat over {rules.topics[topic].label} (u noemt {words})")
    if not parts:
        return ""
    sentence = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]
    return sentence[0].upper() + sentence[1:] + "."


def _helpers(session: Session, rules: LoketRules, facts: QuestionFacts) -> list[Helper]:
    desks = desks_for(rules, facts)
    slugs = [desk.organisation for desk in desks]
    found = {o.slug: o for o in session.exec(select(Organisation).where(col(Organisation.slug).in_(slugs)))}
    helpers = []
    for desk in desks:
        organisation = found.get(desk.organisation)
        if organisation is None or organisation.id is None:  # not seeded: the desk still reads the case
            continue
        why = " ".join(part for part in (_conditions_met(desk, facts, rules), desk.why) if part)
        helpers.append(Helper(
            organisation=OrganisationRef(id=organisation.id, slug=organisation.slug, name=organisation.name),
            why=why, reach=desk.reach, source=desk.source,
        ))
    return helpers


def _is_open_to(need: Need, regions: tuple[str, ...], today: date) -> bool:
    return (
        need.status == NeedStatus.open
        and need.visibility == Visibility.public
        and (need.deadline is None or need.deadline >= today)
        and (not need.eligible_regions or any(region in regions for region in need.eligible_regions))
    )


def _programmes(session: Session, rules: LoketRules, facts: QuestionFacts) -> list[FittingProgramme]:
    chosen = programmes_for(rules, facts)
    slugs = [rule.need for rule in chosen]
    found = {n.slug: n for n in session.exec(select(Need).where(col(Need.slug).in_(slugs),
                                                                Need.kind == NeedKind.programme))}
    today = date.today()
    programmes = []
    for rule in chosen:
        need = found.get(rule.need)
        if need is None or need.id is None or not _is_open_to(need, facts.regions, today):
            continue
        programmes.append(FittingProgramme(need_id=need.id, title=need.title, why=rule.why, source=rule.source,
                                           budget_note=need.budget_note))
    return programmes


def _fitting_needs(
    session: Session, engine: MatchEngine, text: str, facts: QuestionFacts, need_filters: NeedFilterCache | None
) -> list[FittingNeed]:
    matches = match_views.needs_for_text(
        session=session, engine=engine, text=text, kinds=NEED_KINDS, regions=list(facts.regions),
        limit=NEEDS_SHOWN, min_fit=MIN_FIT, need_filters=need_filters,
    )
    kinds = {kind["slug"]: kind["nl"] for kind in get_taxonomy().need_kinds}
    fitting = []
    for match in matches:
        passage = match.explanation.match_passage.text
        quote = passage if len(passage) <= QUOTE_LENGTH else passage[: QUOTE_LENGTH - 1].rstrip() + "…"
        need = match.need
        fitting.append(FittingNeed(
            need_id=need.id, title=need.title, kind=need.kind, kind_label=kinds.get(need.kind, need.kind),
            owner=need.owner.name if need.owner else None, deadline=need.deadline,
            fit=fit_of(match.score), quote=quote or None,
        ))
    return fitting


def _summary(reference: str, phase_label: str, helpers: list[Helper]) -> str:
    first = (f"U kunt het best eerst terecht bij {helpers[0].organisation.name}."
             if helpers else "De desk zoekt voor u uit wie u het best kan helpen.")
    return (
        f"Dank voor uw vraag. Uw kenmerk is {reference}. {first} Hieronder leest u wie u kan helpen en "
        f"waarom, welke regelingen passen bij uw ontwikkelfase ({phase_label}) en welke open behoeften en "
        "calls aansluiten bij uw vraag. Uw vraag staat in de inbox van de desk; een adviseur neemt contact "
        "met u op."
    )
