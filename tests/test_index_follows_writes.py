"""Every way a company or need is written reaches the running process's matching index when it
commits: the API, the registration form, the command line's import and seed, and erasure.

The index is read directly, without a matching request: a request would also catch up through
the change log, and these tests are about the write path itself.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import app as cli
from app.main import create_app
from app.models import Company, Need
from app.services.matching import MatchingState
from tests.factories import bearer, create_need, register_company
from tests.test_matching_api import DRONES, NIGHT_VISION, make_engine
from tests.web.test_registration import submit

runner = CliRunner()


@pytest.fixture
def state(tmp_path) -> MatchingState:
    return MatchingState.ready_with(make_engine(tmp_path / "matching"))


@pytest.fixture
def mclient(state) -> Iterator[TestClient]:
    with TestClient(create_app(matching_state=state), base_url="http://testserver") as test_client:
        yield test_client


def indexed(state: MatchingState, side: str) -> dict[int, str]:
    """The text the index holds per document id."""
    return {i: d.document.text for i, d in state.engine.snapshot(side).documents.items()}


def test_api_company_writes_reach_the_index(mclient, state):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    assert NIGHT_VISION in indexed(state, "company")[company["id"]]

    edit = {"X-Edit-Token": company["edit_token"]}
    assert mclient.patch(f"/api/v1/companies/{company['id']}", json={"description": DRONES},
                         headers=edit).status_code == 200
    assert DRONES in indexed(state, "company")[company["id"]]

    assert mclient.patch(f"/api/v1/companies/{company['id']}", json={"consent_matching": False},
                         headers=edit).status_code == 200
    assert company["id"] not in indexed(state, "company")  # no consent: not matched

    assert mclient.delete(f"/api/v1/companies/{company['id']}", headers=edit).status_code == 204
    assert company["id"] not in indexed(state, "company")


def test_api_erasure_takes_the_company_out_of_the_index(mclient, state):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION)
    assert company["id"] in indexed(state, "company")

    erased = mclient.delete(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})

    assert erased.status_code == 204
    assert company["id"] not in indexed(state, "company")


def test_api_need_writes_reach_the_index(mclient, state, staff_tokens):
    token = staff_tokens["adviser"]
    need = create_need(mclient, token, title="Nachtzicht", description=NIGHT_VISION)
    assert NIGHT_VISION in indexed(state, "need")[need["id"]]

    changed = mclient.patch(f"/api/v1/needs/{need['id']}", json={"description": DRONES}, headers=bearer(token))
    assert changed.status_code == 200
    assert DRONES in indexed(state, "need")[need["id"]]

    assert mclient.delete(f"/api/v1/needs/{need['id']}", headers=bearer(token)).status_code == 204
    assert need["id"] not in indexed(state, "need")


def test_the_registration_form_reaches_the_index(mclient, state, session):
    assert submit(mclient, description=NIGHT_VISION).status_code == 303

    company = session.exec(select(Company).where(Company.kvk_number == "87654321")).one()
    assert NIGHT_VISION in indexed(state, "company")[company.id]


def test_the_command_line_import_reaches_the_index(mclient, state, session, tmp_path):
    file = tmp_path / "bedrijven.jsonl"
    file.write_text(
        '{"name": "Gamma Drones", "kvk_number": "20000002", "municipality": "Assen", '
        f'"description": "{DRONES}", "contact_email": "g@gamma.example.org", "consent": true}}\n',
        encoding="utf-8",
    )

    # --no-index: no separate rebuild; the running index follows the import's commit itself.
    result = runner.invoke(cli, ["import", str(file), "--no-index"])

    assert result.exit_code == 0, result.output
    company = session.exec(select(Company).where(Company.kvk_number == "20000002")).one()
    assert DRONES in indexed(state, "company")[company.id]


def test_the_seed_reaches_the_index(mclient, state, session):
    result = runner.invoke(cli, ["seed"])

    assert result.exit_code == 0, result.output
    companies = set(session.exec(select(Company.id).where(Company.status == "active")).all())
    needs = set(session.exec(select(Need.id)).all())
    assert companies and needs
    assert set(indexed(state, "company")) == companies
    assert set(indexed(state, "need")) == needs
