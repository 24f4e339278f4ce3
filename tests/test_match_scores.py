"""One calibrated score per company × need pair, the same everywhere it is shown; bands and
`min_fit`; abstention on queries with nothing to search for; a search that names a record puts
it first."""

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.main import create_app
from app.models import Company
from app.services import match_lists
from app.services.matching import MatchingState
from app.services.seeding import load_seed
from tests.factories import bearer, create_need, register_company
from tests.test_matching_api import DRONES, NIGHT_VISION, make_engine
from tests.test_seed import SEED_DIR
from tests.web.conftest import People, log_in

WEEK = "2026-W47"
NOTHING_TO_FIND = ("xyzzy onzin", "de het een", "a", "the and of")


@pytest.fixture
def state(tmp_path) -> MatchingState:
    return MatchingState.ready_with(make_engine(tmp_path / "matching"))


@pytest.fixture
def mclient(state) -> Iterator[TestClient]:
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


def _pair_of(items: list[dict], key: str, wanted: int) -> dict:
    found = [item for item in items if item[key]["id"] == wanted]
    assert len(found) == 1, f"{key} {wanted} not in {[item[key]['id'] for item in items]}"
    return found[0]


def test_a_pair_shows_one_score_and_one_band_on_every_endpoint_and_in_the_weekly_export(
    mclient, staff_tokens, state, session
):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION, defence_experience="none",
                               nld_areas=["sensoren"])
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    need = create_need(mclient, staff_tokens["regioteam"], title="Nachtzicht", description=NIGHT_VISION)
    other_need = create_need(mclient, staff_tokens["regioteam"], title="Drones", description=DRONES)
    staff = bearer(staff_tokens["adviser"])
    scout = bearer(staff_tokens["scout"])

    shown: dict[str, tuple[float, str]] = {}

    def note(where: str, item: dict) -> None:
        shown[where] = (item["score"], item["fit"])

    need_url = f"/api/v1/needs/{need['id']}/matches"
    company_url = f"/api/v1/companies/{company['id']}/matches"
    note("need page", _pair_of(mclient.get(need_url, headers=staff).json()["items"], "company", company["id"]))
    note("need page, 1 a page", mclient.get(need_url, params={"limit": 1}, headers=staff).json()["items"][0])
    note("need page, filtered", _pair_of(mclient.get(need_url, params={"nld_area": "sensoren", "min_fit": "weak",
                                                                        "defence_experience": "none"},
                                                     headers=staff).json()["items"], "company", company["id"]))
    note("company page (staff)", _pair_of(mclient.get(company_url, headers=staff).json()["items"], "need", need["id"]))
    note("company page (itself)", _pair_of(mclient.get(company_url, headers={"X-Edit-Token": company["edit_token"]})
                                           .json()["items"], "need", need["id"]))
    note("scouting", _pair_of(mclient.get(f"/api/v1/needs/{need['id']}/scouting", headers=scout).json()["items"],
                              "company", company["id"]))
    note("search for the need's text", _pair_of(mclient.post(
        "/api/v1/search", json={"text": f"Nachtzicht\n{NIGHT_VISION}", "target": "companies", "min_fit": "weak"},
        headers=staff).json()["items"], "company", company["id"]))

    match_list, _ = match_lists.build(session, state.engine, WEEK)
    session.commit()
    exported = mclient.get(f"/api/v1/match-lists/{WEEK}", params={"format": "csv"}, headers=staff)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    ours = [row for row in rows if (row["bedrijf_id"], row["behoefte_id"]) == (str(company["id"]), str(need["id"]))]
    assert {row["richting"] for row in ours} == {"behoefte→bedrijf", "bedrijf→behoefte"}
    dutch_fit = {"sterk": "strong", "redelijk": "fair", "zwak": "weak"}
    for row in ours:
        shown[f"weekly CSV {row['richting']}"] = (float(row["score"].replace(",", ".")), dutch_fit[row["passend"]])

    scores = {round(score, 4) for score, _ in shown.values()}
    fits = {fit for _, fit in shown.values()}
    assert len(scores) == 1 and len(fits) == 1, shown
    [score] = scores
    assert 0.0 <= score <= 1.0 and fits == {"strong"}  # a need and a company written alike fit strongly

    # The weekly export holds only fair and better; the weak pairs are there when asked for.
    weekly = json.loads(mclient.get(f"/api/v1/match-lists/{WEEK}", headers=staff).content)["lines"]
    everything = json.loads(mclient.get(f"/api/v1/match-lists/{WEEK}", params={"min_fit": "weak"},
                                        headers=staff).content)["lines"]
    assert weekly and all(line["fit"] in ("strong", "fair") for line in weekly)
    assert any(line["fit"] == "weak" for line in everything)
    assert (company["id"], other_need["id"]) not in {(line["company_id"], line["need_id"]) for line in weekly}

    # The need page in the browser shows the same number, with its band in Dutch.
    assert log_in(mclient, People(session)["adviser"]).status_code == 303
    page = re.sub(r"\s+", " ", mclient.get(f"/ui/behoefte/{need['id']}").text)
    assert f"sterk · {score:.2f}" in page


def test_a_need_that_nothing_fits_answers_an_empty_list_with_total_zero(mclient, staff_tokens):
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    need = create_need(mclient, staff_tokens["adviser"], title="Kaas",
                       description="Wij zoeken belegen kaas uit Friesland.")
    url = f"/api/v1/needs/{need['id']}/matches"
    answer = mclient.get(url, headers=bearer(staff_tokens["adviser"]))
    assert answer.status_code == 200 and answer.json() == {"items": [], "total": 0}
    weak = mclient.get(url, params={"min_fit": "weak"}, headers=bearer(staff_tokens["adviser"])).json()
    assert weak["total"] == len(weak["items"]) == 1 and weak["items"][0]["fit"] == "weak"
    assert mclient.get(url, params={"min_fit": "best"}, headers=bearer(staff_tokens["adviser"])).status_code == 422


@pytest.mark.parametrize("text", NOTHING_TO_FIND)
def test_a_query_with_nothing_to_search_for_finds_nothing(mclient, staff_tokens, text):
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    create_need(mclient, staff_tokens["adviser"], title="Drones", description=DRONES)
    for target in ("companies", "needs"):
        answer = mclient.post("/api/v1/search", json={"text": text, "target": target},
                              headers=bearer(staff_tokens["adviser"]))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"items": [], "total": 0}
    # A real question still finds what fits.
    found = mclient.post("/api/v1/search", json={"text": "composieten frames voor drones", "target": "companies"},
                         headers=bearer(staff_tokens["adviser"])).json()
    assert [item["company"]["name"] for item in found["items"]][:1] == ["Emmer Composiet"]


def test_every_seeded_company_is_found_first_by_its_exact_name(mclient, staff_tokens, session: Session):
    load_seed(session, SEED_DIR)
    session.commit()
    names = session.exec(select(Company.name).where(Company.source == "seed")).all()
    assert len(names) >= 5
    staff = bearer(staff_tokens["adviser"])
    for name in names:
        for asked in (name, name.upper(), f"  {name.lower()}  "):
            items = mclient.post("/api/v1/search", json={"text": asked, "target": "companies"},
                                 headers=staff).json()["items"]
            assert items and items[0]["company"]["name"] == name, (asked, [i["company"]["name"] for i in items[:3]])
            assert items[0]["name_match"] is True
            assert not any(item["name_match"] for item in items[1:])


def test_a_kvk_number_or_a_need_slug_finds_its_record_first(mclient, staff_tokens, session: Session):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    staff = bearer(staff_tokens["adviser"])
    kvk = session.get(Company, company["id"]).kvk_number
    items = mclient.post("/api/v1/search", json={"text": kvk, "target": "companies"}, headers=staff).json()["items"]
    assert items[0]["company"]["id"] == company["id"] and items[0]["name_match"]
    need = create_need(mclient, staff_tokens["adviser"], title="Drones", description=DRONES)
    items = mclient.post("/api/v1/search", json={"text": str(need["id"]), "target": "needs"},
                         headers=staff).json()["items"]
    assert items[0]["need"]["id"] == need["id"] and items[0]["name_match"]
    for not_a_number in ("0" * 5000, "²", "٣"):  # too long to be an id; digits, but not ASCII ones
        answer = mclient.post("/api/v1/search", json={"text": not_a_number, "target": "needs"}, headers=staff)
        assert answer.status_code == 200, answer.text
        assert not any(item["name_match"] for item in answer.json()["items"])


def test_a_renamed_company_is_found_first_by_its_new_name_only(mclient, staff_tokens):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    staff = bearer(staff_tokens["adviser"])
    renamed = mclient.patch(f"/api/v1/companies/{company['id']}", json={"name": "Café Noorderzon B.V."},
                            headers={"X-Edit-Token": company["edit_token"]})
    assert renamed.status_code == 200, renamed.text

    def named(text):
        items = mclient.post("/api/v1/search", json={"text": text, "target": "companies", "min_fit": "weak"},
                             headers=staff).json()["items"]
        return [item["company"]["id"] for item in items if item["name_match"]]

    assert named("  cafe   NOORDERZON b.v. ") == [company["id"]]
    assert named("Noordlicht Optiek") == []


def test_the_search_page_says_in_dutch_when_nothing_fits(mclient, session):
    register_company(mclient, name="Emmer Composiet", description=DRONES)
    assert log_in(mclient, People(session)["adviser"]).status_code == 303
    for text in NOTHING_TO_FIND:
        page = mclient.get("/ui/zoeken", params={"q": text})
        assert page.status_code == 200
        plain = re.sub(r"\s+", " ", page.text)
        assert "Geen passende bedrijven gevonden." in plain and "Toon ook zwakke koppelingen" in plain
        assert "Emmer Composiet" not in plain


def test_staff_feedback_becomes_labels_with_the_evidence_the_engine_scores(mclient, staff_tokens, state, session):
    from app.matching.tuning import feedback_pairs, feedback_report
    from app.services.tuning import judgements

    optics = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    frames = register_company(mclient, name="Emmer Composiet", description=DRONES)
    need = create_need(mclient, staff_tokens["adviser"], title="Nachtzicht", description=NIGHT_VISION)
    admin = bearer(staff_tokens["admin"])
    for company, relevant in ((optics, True), (frames, False)):
        answer = mclient.post(f"/api/v1/matches/{company['id']}/{need['id']}/feedback",
                              json={"relevant": relevant, "reason": "beoordeeld"}, headers=admin)
        assert answer.status_code == 200, answer.text
    session.expire_all()
    labels = judgements(session)
    assert {(j.company_id, j.relevant) for j in labels} == {(optics["id"], True), (frames["id"], False)}
    pairs = feedback_pairs(state.engine, labels)
    assert pairs is not None and list(pairs.group_keys) == [f"feedback:need-{need['id']}"]
    report = feedback_report(state.engine.pair_model, pairs)
    assert report["pairs"] == 2 and report["relevant"] == 1 and report["mrr@10"] == 1.0
