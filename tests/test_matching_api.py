"""The matching endpoints over a real database and a small deterministic engine."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.main import create_app
from app.matching.encoders import HashingEncoder
from app.matching.engine import MatchEngine
from app.services.matching import MatchingState
from tests.factories import bearer, create_need, register_company
from tests.waiting import wait_until


def make_engine(folder) -> MatchEngine:
    return MatchEngine(folder, HashingEncoder(128, name="dense-test"), HashingEncoder(96, name="multi-test"))


@pytest.fixture
def engine_dir(tmp_path):
    return tmp_path / "matching"


@pytest.fixture
def mclient(engine_dir) -> Iterator[TestClient]:
    state = MatchingState.ready_with(make_engine(engine_dir))
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


NIGHT_VISION = "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen en infanterie."
DRONES = "Lichtgewicht composieten frames voor drones en onbemande luchtvaartuigen."


def seed_pair(client, staff_tokens):
    optics = register_company(client, name="Noordlicht Optiek", municipality="Noordenveld",
                      description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
                      defence_experience="none", nld_areas=["sensoren"], consent_defence_contact=False)
    frames = register_company(client, name="Emmer Composiet", municipality="Emmen",
                      description="Composieten frames voor drones, lichtgewicht en sterk, uit eigen autoclaaf.",
                      defence_experience="supplier", nld_areas=["slimme-materialen"])
    need = create_need(client, staff_tokens["adviser"], title="Nachtzicht", description=NIGHT_VISION,
                       nld_areas=["sensoren"])
    return optics, frames, need


def company_names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["company"]["name"] for item in response.json()["items"]]


def test_need_finds_the_company_that_fits_and_explains_why(mclient, staff_tokens):
    optics, _frames, need = seed_pair(mclient, staff_tokens)
    # Every match, weak ones too: the test encoders are not what the pair model was calibrated on.
    response = mclient.get(f"/api/v1/needs/{need['id']}/matches", params={"min_fit": "weak"},
                           headers=bearer(staff_tokens["adviser"]))
    items = response.json()["items"]
    assert company_names(response)[0] == "Noordlicht Optiek"
    explanation = items[0]["explanation"]
    text = f"{need['title']}\n{need['description']}"
    need_quote = explanation["query_passage"]["text"]
    company_quote = explanation["match_passage"]["text"]
    assert need_quote and need_quote in text
    assert company_quote and company_quote in f"Noordlicht Optiek\n{optics['description']}"
    assert "sensoren" in explanation["shared_nld_areas"]
    assert items[0]["score"] > items[1]["score"]


def test_erased_company_disappears_from_every_result(mclient, staff_tokens):
    optics, _frames, need = seed_pair(mclient, staff_tokens)
    headers = bearer(staff_tokens["adviser"])
    own = {"X-Edit-Token": optics["edit_token"]}
    assert mclient.delete(f"/api/v1/companies/{optics['id']}", headers=own).status_code == 204
    matches = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=headers)
    assert "Noordlicht Optiek" not in company_names(matches)
    search = mclient.post("/api/v1/search", json={"text": "nachtzicht warmtebeeld", "target": "companies"},
                          headers=headers)
    assert "Noordlicht Optiek" not in company_names(search)


def test_changed_description_changes_matches_without_restart(mclient, staff_tokens):
    optics, frames, need = seed_pair(mclient, staff_tokens)
    headers = bearer(staff_tokens["adviser"])
    drone_need = create_need(mclient, staff_tokens["adviser"], title="Drones", description=DRONES)
    drone_matches = f"/api/v1/needs/{drone_need['id']}/matches"
    assert company_names(mclient.get(drone_matches, headers=headers))[0] == "Emmer Composiet"
    mclient.patch(f"/api/v1/companies/{optics['id']}", headers={"X-Edit-Token": optics["edit_token"]},
                  json={"description": "Lichtgewicht composieten frames voor drones en onbemande luchtvaartuigen."})
    assert company_names(mclient.get(drone_matches, headers=headers))[0] == "Noordlicht Optiek"


def test_filters_are_honoured(mclient, staff_tokens):
    _optics, _frames, need = seed_pair(mclient, staff_tokens)
    headers = bearer(staff_tokens["adviser"])
    url = f"/api/v1/needs/{need['id']}/matches"
    weak = {"min_fit": "weak"}  # Emmer Composiet is a weak match of a night-vision need
    suppliers = mclient.get(url, params={"defence_experience": "supplier", **weak}, headers=headers)
    assert company_names(suppliers) == ["Emmer Composiet"]
    in_region = mclient.get(url, params={"region": "Zuidoost-Drenthe", **weak}, headers=headers)
    assert company_names(in_region) == ["Emmer Composiet"]
    assert company_names(mclient.get(url, params={"nld_area": "sensoren", **weak}, headers=headers)) == [
        "Noordlicht Optiek"]
    # Filters select, they never rescale: each pair keeps the score of the unfiltered list.
    everything = {item["company"]["name"]: item["score"]
                  for item in mclient.get(url, params=weak, headers=headers).json()["items"]}
    assert suppliers.json()["items"][0]["score"] == everything["Emmer Composiet"]
    assert mclient.get(url, params={"limit": 1}, headers=headers).json()["items"].__len__() == 1


def test_company_sees_its_public_open_needs_only(mclient, staff_tokens):
    optics, frames, need = seed_pair(mclient, staff_tokens)
    adviser = staff_tokens["adviser"]
    create_need(mclient, adviser, title="Intern: nachtzicht", description=NIGHT_VISION, visibility="staff")
    create_need(mclient, adviser, title="Gesloten: nachtzicht", description=NIGHT_VISION, status="closed")
    create_need(mclient, adviser, title="Verlopen: nachtzicht", description=NIGHT_VISION, deadline="2020-01-01")
    create_need(mclient, staff_tokens["adviser"], title="Alleen Groningen: nachtzicht", description=NIGHT_VISION,
             eligible_regions=["Groningen"])
    own = mclient.get(f"/api/v1/companies/{optics['id']}/matches", headers={"X-Edit-Token": optics["edit_token"]})
    assert own.status_code == 200
    assert [item["need"]["title"] for item in own.json()["items"]] == ["Nachtzicht"]
    staff_view = mclient.get(f"/api/v1/companies/{optics['id']}/matches", params={"include_closed": True},
                             headers=bearer(staff_tokens["adviser"]))
    titles = {item["need"]["title"] for item in staff_view.json()["items"]}
    assert {"Intern: nachtzicht", "Gesloten: nachtzicht", "Verlopen: nachtzicht"} <= titles
    assert "Alleen Groningen: nachtzicht" not in titles  # Noordenveld is not in Groningen province
    other = mclient.get(f"/api/v1/companies/{optics['id']}/matches", headers={"X-Edit-Token": frames["edit_token"]})
    assert other.status_code == 403


def test_kind_filter_on_company_matches(mclient, staff_tokens):
    optics, _frames, _need = seed_pair(mclient, staff_tokens)
    create_need(mclient, staff_tokens["adviser"], title="Voucher nachtzicht", kind="programme",
                description=NIGHT_VISION)
    response = mclient.get(f"/api/v1/companies/{optics['id']}/matches", params={"kind": "programme"},
                           headers=bearer(staff_tokens["adviser"]))
    assert [item["need"]["kind"] for item in response.json()["items"]] == ["programme"]


def test_scout_sees_what_a_company_does_not_who_to_call(mclient, staff_tokens):
    _optics, _frames, need = seed_pair(mclient, staff_tokens)
    items = mclient.get(f"/api/v1/needs/{need['id']}/matches", params={"min_fit": "weak"},
                        headers=bearer(staff_tokens["scout"])).json()["items"]
    by_name = {item["company"]["name"]: item["company"] for item in items}
    assert by_name["Noordlicht Optiek"]["contact"] is None  # no consent to Defence contact
    assert by_name["Noordlicht Optiek"]["description"].startswith("Wij ontwerpen")
    assert by_name["Emmer Composiet"]["contact"] is None  # the factory default: no consent either


def test_search_needs_is_public_and_search_companies_is_staff_only(mclient, staff_tokens):
    seed_pair(mclient, staff_tokens)
    needs = mclient.post("/api/v1/search", json={"text": "warmtebeeldcamera nachtzicht", "target": "needs"})
    assert needs.status_code == 200
    assert needs.json()["items"][0]["need"]["title"] == "Nachtzicht"
    assert mclient.post("/api/v1/search", json={"text": "drones", "target": "companies"}).status_code == 401
    bad = mclient.post("/api/v1/search", json={"text": "drones", "target": "everything"})
    assert bad.status_code == 422


def test_matching_off_answers_503_with_a_reason(client, staff_tokens):
    need = create_need(client, staff_tokens["adviser"])
    response = client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 503
    assert "switched off" in response.json()["detail"]


def wait_for_the_precompute(state: MatchingState) -> None:
    """The start-up also precomputes every need's companies, in its own thread."""
    assert wait_until(lambda: state.engine.precomputed >= 1, 30), "the start-up never precomputed the need's companies"


def test_restart_rebuilds_from_the_database_with_the_same_results(engine_dir, staff_tokens):
    settings = get_settings()
    first_state = MatchingState.ready_with(make_engine(engine_dir))
    with TestClient(create_app(matching_state=first_state)) as first:
        _optics, _frames, need = seed_pair(first, staff_tokens)
        before = first.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"])).json()
    # A new process: the saved index is gone, the database is not.
    for path in (engine_dir / "index").glob("*"):
        path.unlink()
    restarted = MatchingState(make_engine(engine_dir))
    restarted.start_in_background(settings).join(timeout=60)
    assert restarted.readiness() == (True, "ok")
    wait_for_the_precompute(restarted)
    with TestClient(create_app(matching_state=restarted)) as second:
        after = second.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"])).json()
    assert [(i["company"]["id"], i["score"]) for i in after["items"]] == [
        (i["company"]["id"], i["score"]) for i in before["items"]
    ]


def test_a_serving_process_keeps_its_loaded_index_out_of_the_cycle_collector_until_it_stops(engine_dir, staff_tokens):
    """The loaded index is exempt from full collector passes (app/core/memory.py), which would
    otherwise stop every request while they walk it; a stopped application hands it back."""
    import gc

    state = MatchingState(make_engine(engine_dir))
    with TestClient(create_app(matching_state=state)) as client:
        seed_pair(client, staff_tokens)
        state.start_in_background(get_settings()).join(timeout=60)
        assert state.readiness() == (True, "ok")
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_stopped_application_stops_its_precompute_and_lets_the_shared_work_go(engine_dir, staff_tokens):
    """Another worker takes the work over at once; the stopped one's thread must not live on and
    take the lease back at its next look."""
    from app.models import Lease
    from app.services import shared_precompute

    state = MatchingState(make_engine(engine_dir))
    with TestClient(create_app(matching_state=state)) as client:
        seed_pair(client, staff_tokens)
        state.start_in_background(get_settings()).join(timeout=60)
        wait_for_the_precompute(state)
        assert state.engine.precomputer.running
    assert not state.engine.precomputer.running
    with Session(get_engine()) as session:
        lease = session.get(Lease, shared_precompute.LEASE)
        assert lease is not None and lease.expires_at.replace(tzinfo=UTC) < datetime.now(UTC)


def test_writes_during_the_start_up_build_are_not_lost(engine_dir, staff_tokens, session):
    from app.models import Company

    state = MatchingState(make_engine(engine_dir))  # not ready yet: writes are remembered
    with TestClient(create_app(matching_state=state)) as test_client:
        company = register_company(test_client, description=NIGHT_VISION)
        need = create_need(test_client, staff_tokens["adviser"], description=NIGHT_VISION)
        assert test_client.get(f"/api/v1/needs/{need['id']}/matches",
                               headers=bearer(staff_tokens["adviser"])).status_code == 503
        state.start_in_background(get_settings()).join(timeout=60)
        names = company_names(test_client.get(f"/api/v1/needs/{need['id']}/matches",
                                              headers=bearer(staff_tokens["adviser"])))
    assert names == [session.get(Company, company["id"]).name]


def test_a_need_closed_or_hidden_leaves_a_company_s_matches_at_once(mclient, staff_tokens, session):
    """The allowed needs are cached per worker: a change through this worker or another one clears it."""
    from app.models import Need

    optics, _frames, need = seed_pair(mclient, staff_tokens)
    own = {"X-Edit-Token": optics["edit_token"]}

    def need_ids() -> list[int]:
        response = mclient.get(f"/api/v1/companies/{optics['id']}/matches", headers=own)
        assert response.status_code == 200, response.text
        return [item["need"]["id"] for item in response.json()["items"]]

    assert need["id"] in need_ids()
    closed = mclient.patch(f"/api/v1/needs/{need['id']}", json={"status": "closed"},
                           headers=bearer(staff_tokens["adviser"]))
    assert closed.status_code == 200, closed.text
    assert need["id"] not in need_ids()
    mclient.patch(f"/api/v1/needs/{need['id']}", json={"status": "open"}, headers=bearer(staff_tokens["adviser"]))
    assert need["id"] in need_ids()

    # Through another worker: only the database and its change log say so.
    stored = session.get(Need, need["id"])
    stored.visibility = "staff"
    session.add(stored)
    session.commit()
    assert need["id"] not in need_ids()


def test_readyz_says_how_many_needs_have_their_companies_precomputed(engine_dir, staff_tokens):
    state = MatchingState.ready_with(make_engine(engine_dir))
    with TestClient(create_app(matching_state=state)) as client:
        _optics, _frames, need = seed_pair(client, staff_tokens)
        assert client.get("/readyz").json()["needs_precomputed"] == "0 of 1"
        state.engine.precompute()
        assert client.get("/readyz").json()["needs_precomputed"] == "1 of 1"
        response = client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"]))
        assert company_names(response)[0] == "Noordlicht Optiek"


def test_a_registration_that_starts_a_merge_is_answered_and_matched_before_the_merge_ends(
        engine_dir, staff_tokens):
    from tests.matching.test_background_merge import GatedGraphs

    graphs = GatedGraphs()
    engine = MatchEngine(engine_dir, HashingEncoder(128, name="dense-test"),
                         HashingEncoder(96, name="multi-test"),
                         merge_always_below=0, delta_share=0.05, ann_min_passages=10, ann_factory=graphs)
    state = MatchingState(engine)
    with TestClient(create_app(matching_state=state)) as client:
        for i in range(20):
            register_company(client, name=f"Drentse Maakbedrijf {i}", description=DRONES)
        need = create_need(client, staff_tokens["adviser"], title="Nachtzicht", description=NIGHT_VISION)
        state.start_in_background(get_settings()).join(timeout=60)
        assert state.readiness() == (True, "ok")
        main = engine.snapshot("company").main
        assert len(main.ann) == 2  # the start-up built the graphs, in its own time
        graphs.open.clear()
        graphs.building.clear()
        started = time.monotonic()
        register_company(client, name="Noordlicht Optiek", description=NIGHT_VISION)
        register_company(client, name="Veenkoloniale Optiek", description=NIGHT_VISION)
        assert graphs.building.wait(10) and time.monotonic() - started < 10  # merging, held by the test
        response = client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"]))
        assert set(company_names(response)[:2]) == {"Noordlicht Optiek", "Veenkoloniale Optiek"}
        assert engine.snapshot("company").main is main
        graphs.open.set()
        assert engine.wait_for_merges(timeout=30)
        assert engine.snapshot("company").main is not main
        assert len(engine.snapshot("company").delta.document_ids) == 0
        response = client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"]))
        assert set(company_names(response)[:2]) == {"Noordlicht Optiek", "Veenkoloniale Optiek"}


def test_openapi_describes_the_explanation_and_every_answer_follows_it(mclient, staff_tokens):
    components = mclient.get("/openapi.json").json()["components"]["schemas"]
    for answer in ("CompanyMatch", "NeedMatch"):
        assert components[answer]["properties"]["explanation"]["$ref"] == "#/components/schemas/Explanation"
        assert components[answer]["properties"]["fit"]["$ref"] == "#/components/schemas/Fit"
        assert components[answer]["properties"]["score"]["maximum"] == 1.0
        assert "name_match" in components[answer]["properties"]
    assert set(components["Fit"]["enum"]) == {"strong", "fair", "weak"}
    assert "total" in components["CompanyMatches"]["properties"]
    explanation_schema = components["Explanation"]
    fields = {"summary", "query_passage", "match_passage", "shared_terms", "shared_nld_areas", "shared_sectors",
              "signals", "structured_bonus", "languages"}
    assert set(explanation_schema["properties"]) == set(explanation_schema["required"]) == fields
    assert explanation_schema["properties"]["query_passage"]["$ref"] == "#/components/schemas/Quote"
    assert set(components["Quote"]["properties"]) == {"text", "start", "end"}
    assert explanation_schema["properties"]["signals"]["additionalProperties"]["$ref"] == (
        "#/components/schemas/SignalShare")

    optics, _frames, need = seed_pair(mclient, staff_tokens)
    headers = bearer(staff_tokens["adviser"])
    company_answer = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=headers).json()["items"][0]
    need_answer = mclient.get(f"/api/v1/companies/{optics['id']}/matches", headers=headers).json()["items"][0]
    for explanation in (company_answer["explanation"], need_answer["explanation"]):
        assert set(explanation) == fields
        assert set(explanation["query_passage"]) == set(explanation["match_passage"]) == {"text", "start", "end"}
        assert set(explanation["signals"]) == {"bm25", "dense", "multilingual"}
        assert all(set(share) == {"contribution", "used"} for share in explanation["signals"].values())
        assert set(explanation["languages"]) == {"query", "match"}
