"""Page render times on the seeded data (seed/ with its demo companies), measured and printed at the
end of the run; the target is under 300 ms a page. Timings are reported, not asserted: they depend
on the machine. The engine here uses the fast hashing encoders; pages that match a stored company or
need reuse its stored vectors, so only the free-text search would be slower with the real models."""

import statistics
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.db import get_engine
from app.main import create_app
from app.models import Company, Need
from app.services import match_lists
from app.services.matchable import documents_from_database
from app.services.matching import MatchingState
from app.services.seeding import load_seed
from tests.web.conftest import RENDER_TIMES, log_in, make_engine

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"
REPEATS = 5


@pytest.fixture
def seeded_client(tmp_path, people):
    with Session(get_engine()) as db:
        load_seed(db, SEED_DIR, demo=True)
        engine = make_engine(tmp_path / "matching")
        engine.load_or_build(lambda side: list(documents_from_database(db, side)))
        company_ids = list(db.exec(select(Company.id).order_by(Company.id)).all())
        need_ids = list(db.exec(select(Need.id).order_by(Need.id)).all())
        # The matching work grows with the need's text: time the shortest and the longest one.
        need_ids_by_length = sorted(
            ((need.id, len(need.description)) for need in db.exec(select(Need)).all()),
            key=lambda pair: pair[1],
        )
    with TestClient(create_app(matching_state=MatchingState.ready_with(engine))) as client:
        assert log_in(client, people["adviser"]).status_code == 303
        with Session(get_engine()) as db:
            match_lists.build(db, engine, match_lists.current_week())
            db.commit()
        yield client, company_ids, need_ids, need_ids_by_length


def timed(client: TestClient, label: str, url: str, **kwargs) -> None:
    client.get(url, **kwargs)  # warm-up: the template's first compilation is not what a user waits for
    durations = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(url, **kwargs)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    RENDER_TIMES.append((label, statistics.median(durations), max(durations)))


def test_render_times_on_the_seeded_data(seeded_client):
    client, company_ids, need_ids, need_ids_by_length = seeded_client
    assert len(company_ids) >= 50 and len(need_ids) >= 50
    timed(client, "registration form", "/ui/aanmelden")
    timed(client, "search (companies and needs)", "/ui/zoeken?q=sensoren voor drones en voertuigen")
    timed(client, "search, htmx fragment", "/ui/zoeken?q=warmtebeeld", headers={"HX-Request": "true"})
    timed(client, "company page (first)", f"/ui/bedrijf/{company_ids[0]}")
    timed(client, "company page (middle)", f"/ui/bedrijf/{company_ids[len(company_ids) // 2]}")
    shortest, longest = need_ids_by_length[0], need_ids_by_length[-1]
    timed(client, f"need page ({shortest[1]:,} chars)", f"/ui/behoefte/{shortest[0]}")
    timed(client, f"need page ({longest[1]:,} chars)", f"/ui/behoefte/{longest[0]}")
    timed(
        client,
        f"need page, scouting fragment ({longest[1]:,})",
        f"/ui/behoefte/{longest[0]}?nieuw_voor_defensie=true",
        headers={"HX-Request": "true"},
    )
    timed(client, "pipeline board", "/ui/pipeline")
    timed(client, "weekly list", "/ui/weeklijst")
    timed(client, "weekly list CSV", f"/ui/weeklijst/{match_lists.current_week()}.csv")
    timed(client, "dashboard", "/ui/dashboard")
