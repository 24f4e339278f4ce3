"""Finding 1, second half: a database error logs no personal data (no SQL parameters, contact fields
masked) and its 500 answer is JSON ``{"detail": …}`` with the security headers."""

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.core.db import get_engine
from tests.factories import bearer, company_payload

CONTACT = {"contact_name": "Wilhelmina Zwanenburg", "contact_email": "w.zwanenburg@geheim-bedrijf.example",
           "contact_phone": "+31 592 987654"}


@pytest.fixture
def failing_company_insert() -> Iterator[None]:
    """Every INSERT into company fails inside the database, as a full disk or a broken constraint would."""
    engine = get_engine()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(
                "CREATE FUNCTION refuse_company() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused_by_the_test'; END $$"))
            connection.execute(text("CREATE TRIGGER refuse_company BEFORE INSERT ON company "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse_company()"))
        else:
            # A table that does not exist: an operational error (RAISE() would look like a constraint).
            connection.execute(text("CREATE TRIGGER refuse_company BEFORE INSERT ON company "
                                    "BEGIN INSERT INTO refused_by_the_test VALUES (1); END"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP TRIGGER refuse_company ON company"))
                connection.execute(text("DROP FUNCTION refuse_company()"))
            else:
                connection.execute(text("DROP TRIGGER refuse_company"))


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(record) + " " + str(vars(record)) for record in caplog.records)


def test_a_database_error_logs_no_personal_data_and_answers_json_with_the_headers(
    client, staff_tokens, failing_company_insert, caplog
):
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/v1/companies", json=company_payload(**CONTACT),
                               headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert "reference" in detail
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    logged = _everything_logged(caplog)
    assert "refused_by_the_test" in logged  # the error itself is logged, with its traceback …
    reference = detail.split("reference ")[1].split(")")[0]
    assert reference in logged
    for value in CONTACT.values():  # … without the statement's values
        assert value not in logged, f"{value!r} reached the log"
    assert "Veenstra Precisietechniek" not in logged


def test_an_unexpected_error_anywhere_answers_json_with_the_headers(client, monkeypatch):
    from app.routers import taxonomy

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(taxonomy, "get_taxonomy", broken)
    response = client.get("/api/v1/taxonomy")
    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    assert response.headers["X-Frame-Options"] == "DENY"


def test_contact_fields_are_masked_in_every_log_record(caplog):
    from app.core.logging import install_personal_data_masking

    install_personal_data_masking()
    logger = logging.getLogger("app.test")
    with caplog.at_level(logging.INFO, logger="app.test"):
        logger.info("registered %s (%s)", CONTACT["contact_email"], CONTACT["contact_phone"])
        logger.info("structured", extra={"contact_name": CONTACT["contact_name"], "note": CONTACT["contact_email"]})
        try:
            raise ValueError(f"bad address {CONTACT['contact_email']}")
        except ValueError:
            logger.exception("failed")
    logged = _everything_logged(caplog) + caplog.text
    for value in CONTACT.values():
        assert value not in logged
    assert "registered *** (***)" in logged


def test_the_database_engine_hides_statement_parameters():
    assert get_engine().hide_parameters is True
