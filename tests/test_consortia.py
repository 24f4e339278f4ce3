"""Consortium suggestions: groups of companies that together cover a call's parts."""

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models import Need
from app.services.consortia import COVERS, choose_groups
from tests.factories import bearer, create_need, make_user
from tests.loket_fixtures import seeded_client


@pytest.fixture
def seeded(tmp_path) -> Iterator[TestClient]:
    yield from seeded_client(tmp_path / "matching", demo=True)


def edf_call(session: Session, slug: str = "edf-2024-ls-ra-challenge-sens-radno") -> int:
    need_id = session.exec(select(Need.id).where(Need.slug == slug)).one()
    return need_id


def test_a_consortium_for_an_edf_call_covers_more_parts_than_the_best_single_company(seeded, session):
    _, token = make_user(session, role="adviser")
    call = edf_call(session)
    # The hashing test encoders' scores are weak: the seeded demo companies are asked for as such.
    params = {"include_closed": True, "size": 3, "min_fit": "weak"}
    response = seeded.get(f"/api/v1/needs/{call}/consortia", params=params,
                          headers=bearer(token))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["closed"] is True and answer["total_parts"] >= 2
    assert 1 <= len(answer["items"]) <= 5
    best = answer["items"][0]
    assert best["covered_parts"] > answer["best_single"]["covered_parts"]
    assert 2 <= len(best["members"]) <= 3
    # Each member is shown with the parts it covers, quoted from the call and from its profile …
    call_text = session.get(Need, call).description
    quoted = [part for member in best["members"] for part in member["parts"]]
    assert len(quoted) == best["covered_parts"]
    assert all(part["score"] >= COVERS for part in quoted)
    for part in quoted:
        assert " ".join(part["quote"].rstrip("…").split())[:60] in " ".join(call_text.split())
    assert len({part["index"] for part in quoted}) == len(quoted)  # each part has one member
    # … and the parts nobody in the group covers are named.
    assert len(best["uncovered"]) == best["total_parts"] - best["covered_parts"]
    assert best["uncovered"] and all(part["quote"] for part in best["uncovered"])
    assert best["with_defence_experience"] and best["without_defence_experience"]
    assert f"{best['covered_parts']} van de {best['total_parts']} delen" in best["why"]


def test_closed_calls_need_the_filter_and_small_needs_have_no_consortia(seeded, session):
    _, token = make_user(session, role="adviser")
    call = edf_call(session)
    closed = seeded.get(f"/api/v1/needs/{call}/consortia", headers=bearer(token))
    assert closed.status_code == 409 and "include_closed=true" in closed.json()["detail"]
    small = create_need(seeded, token, kind="call", description="Eén alinea over composieten voor drones.")
    refused = seeded.get(f"/api/v1/needs/{small['id']}/consortia", headers=bearer(token))
    assert refused.status_code == 422 and "at least 2 parts" in refused.json()["detail"]
    assert seeded.get(f"/api/v1/needs/{call}/consortia", params={"size": 5}, headers=bearer(token)).status_code == 422
    assert seeded.get(f"/api/v1/needs/{call}/consortia").status_code == 401
    assert seeded.get("/api/v1/needs/999999/consortia", headers=bearer(token)).status_code == 404


def test_groups_prefer_new_parts_over_overlap_and_a_defence_mix():
    # Parts:                 0    1    2    3
    scores = np.array([[0.9, 0.9, 0.0, 0.0],   # 0: defence experience
                       [0.8, 0.8, 0.1, 0.0],   # 1: repeats company 0
                       [0.0, 0.0, 0.9, 0.0],   # 2: defence experience, part 2
                       [0.0, 0.1, 0.8, 0.0]],  # 3: no defence experience, part 2 as well
                      dtype=np.float32)
    experienced = [True, True, True, False]
    groups = choose_groups(scores, experienced, size=2)
    best = groups[0]
    assert set(best.members) == {0, 3}  # part 2 from the company without defence experience
    assert best.covered == 3 and best.overlap == 0 and best.mixed
    assert all(len(group.members) >= 2 for group in groups)
    assert len({frozenset(group.members) for group in groups}) == len(groups)


def test_a_member_must_bring_a_part_the_group_lacks():
    scores = np.array([[0.9, 0.9], [0.8, 0.8]], dtype=np.float32)
    assert choose_groups(scores, [True, False], size=2) == []


CALL_PARTS = [
    "Deel 1. Lichtgewicht composieten frames en rotorbladen voor drones, koolstofvezel en aramide, getest.",
    "Deel 2. Radarsensoren en elektro-optische sensoren voor drones, met signaalverwerking aan boord en kalibratie.",
    "Deel 3. Software voor autonome navigatie van drones in zwermen, met kunstmatige intelligentie en simulatie.",
]


def test_only_companies_that_fit_the_call_at_least_fair_are_proposed(tmp_path, session):
    """A bakery and a hair salon fit a drone call weakly: they join no consortium, however the
    groups are put together (the fit band is services/fit.py's, as in every other list)."""
    from app.main import create_app
    from app.services.fit import fits
    from app.services.matching import MatchingState
    from tests.factories import company_payload
    from tests.test_matching_api import make_engine

    _, token = make_user(session, role="admin")
    with TestClient(create_app(matching_state=MatchingState.ready_with(make_engine(tmp_path / "matching")))) as client:
        for description in (
            "Composieten frames en rotorbladen voor drones van koolstofvezel en aramide; radarsensoren voor drones.",
            "Software voor autonome navigatie van drones in zwermen met kunstmatige intelligentie en sensoren.",
            "Koolstofvezel composieten en elektro-optische sensoren voor drones, signaalverwerking en kalibratie.",
            "Bakkerij met brood en banket voor de regio.",
            "Kapsalon en schoonheidssalon in het centrum.",
        ):
            registered = client.post("/api/v1/companies", json=company_payload(description=description),
                                     headers=bearer(token))
            assert registered.status_code == 201, registered.text
        call = create_need(client, token, kind="call", title="Call drones",
                           description="\n\n".join(part * 4 for part in CALL_PARTS))
        ranked = client.get(f"/api/v1/needs/{call['id']}/matches", params={"limit": 50, "min_fit": "weak"},
                            headers=bearer(token)).json()["items"]
        weak = {item["company"]["id"] for item in ranked if not fits(item["score"])}
        assert len(weak) >= 2  # the bakery and the salon
        answer = client.get(f"/api/v1/needs/{call['id']}/consortia", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        members = {member["company"]["id"] for group in answer.json()["items"] for member in group["members"]}
        assert members and not members & weak
