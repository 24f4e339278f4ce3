"""The loket's rules, read from ``seed/loket.yaml``: which desks help with a question, which
programmes fit a development phase or a topic, and the KPI targets the dashboard reports against.

The rules are data: this module reads and checks them and applies their conditions to the facts
of one question (its municipality's province and regions, its phase, the topics its words name).
``koppelkans seed`` checks the file with ``problems_in`` against the organisations, programmes and
source documents it loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.errors import KoppelkansError
from app.domain import Phase
from app.taxonomy import get_taxonomy

RULES_FILE = "loket.yaml"
DEFAULT_SEED_DIR = Path(__file__).resolve().parents[2] / "seed"


class RulesError(KoppelkansError):
    """``seed/loket.yaml`` is missing or invalid; the message says where."""

    status_code = 500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    label: str
    words: tuple[str, ...] = Field(min_length=1)


class Conditions(_Strict):
    provinces: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()
    topics: tuple[str, ...] = ()


class DeskRule(_Strict):
    organisation: str
    when: Conditions = Conditions()
    why: str
    reach: str
    source: str


class ProgrammeRule(_Strict):
    need: str
    why: str
    source: str


class PhaseRules(_Strict):
    label: str
    programmes: tuple[ProgrammeRule, ...] = ()


class KpiTarget(_Strict):
    per_year: int | None = Field(default=None, ge=0)
    text: str
    source: str


class LoketRules(_Strict):
    topics: dict[str, Topic]
    desks: tuple[DeskRule, ...] = Field(min_length=1)
    no_desk: str
    phases: dict[Phase, PhaseRules]
    topic_programmes: dict[str, tuple[ProgrammeRule, ...]] = {}
    kpi_targets: dict[str, KpiTarget]
    advice_voucher_programme: str
    defence_organisations: tuple[str, ...] = ()

    def programme_rules(self) -> list[ProgrammeRule]:
        return [rule for phase in self.phases.values() for rule in phase.programmes] + [
            rule for rules in self.topic_programmes.values() for rule in rules
        ]


KPI_NAMES = ("trajectories", "advice_vouchers", "defence_helped")


def parse_rules(text: str, *, where: str = RULES_FILE) -> LoketRules:
    """The rules in ``text`` (YAML); RulesError naming every problem when they do not parse."""
    try:
        data = yaml.safe_load(text)
        rules = LoketRules.model_validate(data)
    except yaml.YAMLError as error:
        raise RulesError(f"{where}: not valid YAML: {error}") from error
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise RulesError(f"{where}: {problems}") from error
    missing = [phase.value for phase in Phase if phase not in rules.phases]
    if missing:
        raise RulesError(f"{where}: phases lacks {', '.join(missing)}")
    if set(rules.kpi_targets) != set(KPI_NAMES):
        raise RulesError(f"{where}: kpi_targets must name exactly {', '.join(KPI_NAMES)}")
    return rules


def read_rules(seed_dir: Path) -> LoketRules:
    path = Path(seed_dir) / RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"{path}: cannot read the loket's rules: {error}") from error
    return parse_rules(text, where=str(path))


@cache
def get_rules() -> LoketRules:
    """The rules of the shipped seed folder, read once per process."""
    return read_rules(DEFAULT_SEED_DIR)


def problems_in(rules: LoketRules, *, organisations: set[str], programmes: set[str]) -> list[str]:
    """What refers to nothing: unknown organisations, programmes (need slugs of kind programme),
    provinces, regions or topics. Citations are checked by the seed loader."""
    taxonomy = get_taxonomy()
    provinces = {m.province for m in taxonomy.municipalities.values()}
    regions = set(taxonomy.regions)
    problems = []
    for index, desk in enumerate(rules.desks, start=1):
        where = f"{RULES_FILE}, desk {index} ({desk.organisation})"
        if desk.organisation not in organisations:
            problems.append(f"{where}: unknown organisation {desk.organisation!r}")
        problems += [f"{where}: unknown province {p!r}" for p in desk.when.provinces if p not in provinces]
        problems += [f"{where}: unknown region {r!r}" for r in desk.when.regions if r not in regions]
        problems += [f"{where}: unknown topic {t!r}" for t in desk.when.topics if t not in rules.topics]
    for rule in rules.programme_rules():
        if rule.need not in programmes:
            problems.append(f"{RULES_FILE}: unknown programme {rule.need!r} (not a programme in seed/needs)")
    problems += [f"{RULES_FILE}: topic_programmes names unknown topic {t!r}"
                 for t in rules.topic_programmes if t not in rules.topics]
    if rules.advice_voucher_programme not in programmes:
        problems.append(f"{RULES_FILE}: unknown advice_voucher_programme {rules.advice_voucher_programme!r}")
    problems += [f"{RULES_FILE}: unknown defence organisation {slug!r}"
                 for slug in rules.defence_organisations if slug not in organisations]
    return problems


def citations(rules: LoketRules) -> list[tuple[str, str]]:
    """(where, source) of every cited rule, for the seed loader's citation check."""
    cited = [(f"{RULES_FILE}, desk {desk.organisation}", desk.source) for desk in rules.desks]
    cited += [(f"{RULES_FILE}, programme {rule.need}", rule.source) for rule in rules.programme_rules()]
    cited += [(f"{RULES_FILE}, kpi_targets.{name}", target.source) for name, target in rules.kpi_targets.items()]
    return cited


# --- applying the rules to a question ------------------------------------------------------------


@dataclass(frozen=True)
class QuestionFacts:
    """What the rules look at: where the company is, its phase, and what its question is about."""

    municipality: str
    province: str
    regions: tuple[str, ...]
    phase: Phase
    topics: dict[str, list[str]]  # topic → the words of the question that name it


def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # A question's word that starts with one of the topic's words ("defensieopdracht", "militaire").
    alternatives = "|".join(re.escape(word.lower()) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)


def topics_in(rules: LoketRules, text: str) -> dict[str, list[str]]:
    """The topics the text names, each with the words that name it (first three, as written)."""
    found: dict[str, list[str]] = {}
    for name, topic in rules.topics.items():
        words = list(dict.fromkeys(match.group(0) for match in _words_pattern(topic.words).finditer(text)))
        if words:
            found[name] = words[:3]
    return found


def facts_of(rules: LoketRules, *, municipality: str, phase: Phase, text: str) -> QuestionFacts:
    found = get_taxonomy().municipality(municipality)
    if found is None:
        raise RulesError(f"unknown municipality {municipality!r}")
    return QuestionFacts(found.name, found.province, found.regions, phase, topics_in(rules, text))


def applies(conditions: Conditions, facts: QuestionFacts) -> bool:
    return (
        (not conditions.provinces or facts.province in conditions.provinces)
        and (not conditions.regions or any(region in facts.regions for region in conditions.regions))
        and (not conditions.phases or facts.phase in conditions.phases)
        and (not conditions.topics or any(topic in facts.topics for topic in conditions.topics))
    )


def desks_for(rules: LoketRules, facts: QuestionFacts) -> list[DeskRule]:
    """The desk rules that apply, in the file's order, one per organisation."""
    chosen: dict[str, DeskRule] = {}
    for desk in rules.desks:
        if desk.organisation not in chosen and applies(desk.when, facts):
            chosen[desk.organisation] = desk
    return list(chosen.values())


def programmes_for(rules: LoketRules, facts: QuestionFacts) -> list[ProgrammeRule]:
    """The programme rules of the phase, then those of the question's topics, each programme once."""
    chosen: dict[str, ProgrammeRule] = {}
    candidates = list(rules.phases[facts.phase].programmes)
    for topic in facts.topics:
        candidates += rules.topic_programmes.get(topic, ())
    for rule in candidates:
        chosen.setdefault(rule.need, rule)
    return list(chosen.values())
