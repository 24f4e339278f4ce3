"""The pipeline board: the API's and the web board's matches come from one service, read with the
same few statements however many matches a page holds."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlmodel import Session

from app.core.db import get_engine
from app.models import Company, Match, Need
from app.services import pipeline
from app.services.board import CARDS_PER_COLUMN, BoardFilter, cards, count
from tests.factories import bearer, make_user, next_kvk
from tests.web.conftest import log_in


def add_matches(session: Session, companies: int, needs: int = 1) -> list[tuple[int, int]]:
    company_rows = [Company(name=f"Bedrijf {n}", kvk_number=next_kvk(), municipality="Emmen",
                            description="Precisieverspaning.") for n in range(companies)]
    need_rows = [Need(title=f"Vraag {n}", description="Defensie zoekt verspaning.", kind="defence_need")
                 for n in range(needs)]
    session.add_all([*company_rows, *need_rows])
    session.flush()
    pairs = [(c.id, n.id) for c in company_rows for n in need_rows]
    session.add_all([Match(company_id=c, need_id=n, last_score=0.5) for c, n in pairs])
    session.commit()
    return pairs


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def board_statements(client, token: str) -> int:
    # Asked once before counting: the token's lookup is then cached, so every count is of the
    # board alone (the first ask of a token reads its row as well).
    assert client.get("/api/v1/matches", headers=bearer(token)).status_code == 200
    with counted_statements() as statements:
        response = client.get("/api/v1/matches", headers=bearer(token))
    assert response.status_code == 200, response.text
    return len(statements)


def test_the_api_board_reads_a_page_with_the_same_statements_however_long(client, session, staff_tokens):
    add_matches(session, companies=2)
    few = board_statements(client, staff_tokens["adviser"])
    add_matches(session, companies=30)
    many = board_statements(client, staff_tokens["adviser"])

    board = client.get("/api/v1/matches", headers=bearer(staff_tokens["adviser"])).json()
    assert board["count"] == 32 and len(board["data"]) == 32
    assert many == few


def test_the_web_board_reads_a_page_with_the_same_statements_however_long(client, session):
    user, _ = make_user(session, role="adviser", username="bord", password="correct horse battery staple")
    assert log_in(client, user.username).status_code == 303
    add_matches(session, companies=2)
    with counted_statements() as statements:
        assert client.get("/ui/pipeline").status_code == 200
    few = len(statements)
    add_matches(session, companies=30)
    with counted_statements() as statements:
        page = client.get("/ui/pipeline")
    # One page of the column, and how many it holds in all.
    assert page.status_code == 200 and page.text.count("Bedrijf ") >= CARDS_PER_COLUMN and "(32)" in page.text
    assert len(statements) == few


def test_the_filter_narrows_the_board_and_dismissed_pairs_can_be_left_out(session):
    pairs = add_matches(session, companies=3, needs=2)
    (company_id, need_id), other = pairs[0], pairs[1]
    match = pipeline.get(session, *other)
    match.relevant = False
    session.add(match)
    session.commit()

    for_need = cards(session, BoardFilter(need_id=need_id), limit=100)
    assert {card.match.need_id for card in for_need} == {need_id} and len(for_need) == 3
    assert count(session, BoardFilter(company_id=company_id)) == 2
    kept = cards(session, BoardFilter(include_dismissed=False), limit=100)
    assert len(kept) == 5 and other not in {(c.match.company_id, c.match.need_id) for c in kept}
    assert cards(session, BoardFilter(), limit=100)[0].company_name.startswith("Bedrijf ")
