"""The pipeline board with 5,000 worked matches stays small and quick: one page per column, the
filters applied by the database. Its render time is printed with the others at the end of the run."""

import re
import statistics
import time
from itertools import cycle

from sqlalchemy import insert
from sqlmodel import Session

from app.core.db import get_engine
from app.domain import PipelineStatus
from app.models import Company, Match, MatchEvent, Need, utcnow
from app.services.board import CARDS_PER_COLUMN
from tests.factories import make_user, next_kvk
from tests.web.conftest import RENDER_TIMES, csrf_from, log_in

RECORDS = 5_000
NEEDS = 10


def fill_the_pipeline(owner_id: int) -> None:
    """RECORDS match records over every status, each with an event (worked on), half owned."""
    with Session(get_engine()) as db:
        companies = [Company(name=f"Bedrijf {n:04d}", kvk_number=next_kvk(), municipality="Emmen",
                             description="Precisieverspaning voor defensie.") for n in range(RECORDS // NEEDS)]
        needs = [Need(title=f"Vraag {n}", description="Defensie zoekt verspaning.", kind="defence_need",
                      nld_areas=["sensoren"] if n % 2 else []) for n in range(NEEDS)]
        db.add_all([*companies, *needs])
        db.flush()
        now = utcnow()
        statuses = cycle(PipelineStatus)
        rows = [{"company_id": c.id, "need_id": n.id, "status": next(statuses), "last_score": 0.5,
                 "owner_user_id": owner_id if (c.id + n.id) % 2 else None, "created_at": now, "updated_at": now}
                for c in companies for n in needs]
        db.connection().execute(insert(Match.__table__), rows)
        match_ids = db.connection().exec_driver_sql("SELECT id FROM match").scalars().all()
        db.connection().execute(insert(MatchEvent.__table__), [
            {"match_id": match_id, "at": now, "actor": "cli", "kind": "note", "note": "werk", "visibility": "internal"}
            for match_id in match_ids])
        db.commit()


def timed(client, url: str) -> tuple[float, str]:
    client.get(url)
    durations, text = [], ""
    for _ in range(3):
        started = time.perf_counter()
        response = client.get(url)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        text = response.text
    return statistics.median(durations), text


def test_the_board_with_5000_records_shows_one_page_per_column(web, people, session):
    owner, _ = make_user(session, role="adviser", username="eigenaar")
    fill_the_pipeline(owner.id)
    assert log_in(web, people["adviser"]).status_code == 303
    median, page = timed(web, "/ui/pipeline")
    RENDER_TIMES.append(("pipeline board, 5,000 records", median, median))
    assert len(page.encode()) < 300_000  # one page per column, not 5,000 cards
    assert page.count('class="board-card"') <= CARDS_PER_COLUMN * len(PipelineStatus)
    totals = [int(n) for n in re.findall(r'class="board-column-title"[^>]*>[^<]+<span class="count">\((\d+)\)', page)]
    assert len(totals) == len(PipelineStatus) and sum(totals) == RECORDS  # each column says what it holds
    assert "Volgende" in page  # the columns have further pages

    median, unowned = timed(web, "/ui/pipeline?eigenaar=geen&status=triaged")
    RENDER_TIMES.append(("pipeline board, filtered", median, median))
    assert unowned.count('class="board-card"') == CARDS_PER_COLUMN and "nog geen eigenaar" in unowned
    assert "eigenaar eigenaar" not in unowned
    second = web.get("/ui/pipeline/kolom/triaged", params={"pagina": 2, "eigenaar": "geen"},
                     headers={"HX-Request": "true"})
    assert second.status_code == 200 and "<html" not in second.text and "2 van" in second.text
    median, dashboard = timed(web, "/ui/dashboard")
    RENDER_TIMES.append(("dashboard, 5,000 records", median, median))
    assert f"<strong>{RECORDS}</strong> koppelingen" in dashboard
    assert csrf_from(page)
    print(f"board page: {len(page.encode()):,} bytes")
