"""The vocabulary in app/domain.py agrees with the tables that use it: the pipeline's transitions,
the taxonomy's need kinds and the web interface's Dutch labels."""

import re
from enum import StrEnum
from pathlib import Path

import pytest

from app.domain import CompanyStatus, DefenceExperience, ListLineChange, NeedKind, NeedStatus, PipelineStatus, Role
from app.services.pipeline import FINAL, NEEDS_REASON, TRANSITIONS
from app.taxonomy import get_taxonomy
from app.web.templating import (
    CHANGE_LABELS,
    DEFENCE_EXPERIENCE_LABELS,
    PIPELINE_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_pipeline_status_has_its_transitions_and_every_target_is_a_status():
    assert list(TRANSITIONS) == list(PipelineStatus)  # every status, in the board's order
    for status, targets in TRANSITIONS.items():
        assert all(isinstance(target, PipelineStatus) for target in targets), status
        assert status not in targets, status
        assert len(set(targets)) == len(targets), status


def test_the_final_statuses_are_the_ones_the_readme_names_and_every_other_can_reach_them():
    readme = README.read_text(encoding="utf-8")
    final = re.search(r"`(\w+)` and `(\w+)` end a match", readme)
    with_reason = re.search(r"`(\w+)` and `(\w+)` need a reason", readme)
    assert final and with_reason, "the README says which statuses end a match and which need a reason"
    ends = {status for status, targets in TRANSITIONS.items() if not targets}
    assert ends == FINAL == {PipelineStatus(name) for name in final.groups()}
    assert {PipelineStatus(name) for name in with_reason.groups()} == NEEDS_REASON
    for status in set(PipelineStatus) - FINAL:
        assert reachable_from(status) >= FINAL, status


def test_every_status_is_reachable_from_new():
    assert reachable_from(PipelineStatus.new) == set(PipelineStatus)


def reachable_from(status: PipelineStatus) -> set[PipelineStatus]:
    reached, frontier = {status}, [status]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


def test_the_need_kinds_of_the_taxonomy_are_the_domain_s():
    assert [kind["slug"] for kind in get_taxonomy().need_kinds] == list(NeedKind)


@pytest.mark.parametrize(
    ("enum", "labels"),
    [
        (PipelineStatus, PIPELINE_LABELS),
        (Role, ROLE_LABELS),
        (DefenceExperience, DEFENCE_EXPERIENCE_LABELS),
        (ListLineChange, CHANGE_LABELS),
        (CompanyStatus, STATUS_LABELS),
        (NeedStatus, STATUS_LABELS),
    ],
)
def test_every_member_has_a_dutch_label(enum: type[StrEnum], labels: dict[StrEnum, str]):
    missing = [member for member in enum if not labels.get(member)]
    assert missing == []
