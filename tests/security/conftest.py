"""A small world for the security tests: one user per staff role and three self-registered companies."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.db import get_engine
from app.core.security import hash_password
from app.main import create_app
from app.models import MatchList, Organisation
from app.services.matching import MatchingState
from tests.factories import make_user, need_payload, register_company
from tests.test_matching_api import make_engine

STAFF_ROLES = ("adviser", "scout", "regioteam", "admin")
WORLD_WEEK = "2026-W48"  # the week of the stored list in every world
# Every kind of caller the authorisation rules distinguish.
CALLERS = ("anonymous", "own_company", "other_company", *STAFF_ROLES)
LOGIN_PASSWORD = "correct horse battery staple"


@lru_cache
def _login_password_hash() -> str:
    # Hashing with argon2 is slow on purpose: once per run, not once per world.
    return hash_password(LOGIN_PASSWORD)


@dataclass
class World:
    tokens: dict[str, str]  # staff role -> bearer token
    companies: dict[str, dict] = field(
        default_factory=dict
    )  # "own", "other", "consenting" -> registration answer
    needs: dict[str, dict] = field(default_factory=dict)  # "public", "staff", "programme" -> need
    cases: dict[str, dict] = field(default_factory=dict)  # "asked" -> the loket's case, as the desk reads it
    login_username: str = ""

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "own_company":
            return {"X-Edit-Token": self.companies["own"]["edit_token"]}
        if caller == "other_company":
            return {"X-Edit-Token": self.companies["other"]["edit_token"]}
        return {"Authorization": f"Bearer {self.tokens[caller]}"}

    def personal_values(self, key: str) -> list[str]:
        """The contact details and edit token of one company: strings that must not leak."""
        company = self.companies[key]
        return [
            company["contact"]["name"],
            company["contact"]["email"],
            company["contact"]["phone"],
            company["edit_token"],
        ]

    def forbidden_for(self, caller: str) -> list[str]:
        """Personal data of the world's companies that ``caller`` is not entitled to see."""
        entitled = {
            "anonymous": set(),
            "own_company": {"own"},
            "other_company": {"other"},
            "adviser": {"own", "other", "consenting"},
            "admin": {"own", "other", "consenting"},
            "scout": {"consenting"},
            "regioteam": {"consenting"},
        }[caller]
        forbidden = [v for key in self.companies if key not in entitled for v in self.personal_values(key)]
        # Edit tokens are shown once, at registration, to no one else: staff never see them either.
        forbidden += [self.companies[key]["edit_token"] for key in self.companies]
        # The address of a question asked at the loket: the desk's to read, no one else's.
        if caller not in ("adviser", "admin"):
            forbidden += [case["contact_email"] for case in self.cases.values()]
        return forbidden


def _matching_client(folder: Path) -> Iterator[TestClient]:
    """The app with a small ready matching engine, so the matching endpoints answer for real."""
    state = MatchingState.ready_with(make_engine(folder / "matching"))
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    yield from _matching_client(tmp_path)


@pytest.fixture
def world(client, session) -> World:
    return build_world(client, session)


# A class marked `tables_shared_by_class` reads one world in all its tests: the tests' requests
# must change nothing another test reads (reads, and requests that are refused).
@pytest.fixture(scope="class")
def shared_client(tmp_path_factory) -> Iterator[TestClient]:
    yield from _matching_client(tmp_path_factory.mktemp("shared"))


@pytest.fixture(scope="class")
def shared_world(shared_client) -> World:
    with Session(get_engine()) as session:
        return build_world(shared_client, session)


def build_world(client: TestClient, session: Session) -> World:
    # Staff of one organisation (the admin of none); the needs are the admin's, so of no organisation.
    organisation = Organisation(slug="wereld-organisatie", name="Wereldorganisatie")
    session.add(organisation)
    session.commit()
    tokens = {}
    for role in STAFF_ROLES:
        user, tokens[role] = make_user(session, role=role)
        if role != "admin":
            user.organisation_id = organisation.id
            session.add(user)
    session.commit()
    login_user, _ = make_user(session, role="adviser", username="login-user")
    login_user.password_hash = _login_password_hash()
    session.add(login_user)
    session.commit()
    built = World(tokens=tokens, login_username="login-user")
    built.companies["own"] = register_company(
        client,
        name="Eigen Bedrijf BV",
        contact_name="Anna Eigenaar",
        contact_email="anna@eigen-bedrijf.example",
        contact_phone="+31 591 111111",
        consent_defence_contact=False,
    )
    built.companies["other"] = register_company(
        client,
        name="Ander Bedrijf BV",
        contact_name="Bert Anders",
        contact_email="bert@ander-bedrijf.example",
        contact_phone="+31 592 222222",
        consent_defence_contact=False,
    )
    built.companies["consenting"] = register_company(
        client,
        name="Open Bedrijf BV",
        contact_name="Carla Open",
        contact_email="carla@open-bedrijf.example",
        contact_phone="+31 593 333333",
        consent_defence_contact=True,
    )
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for visibility in ("public", "staff"):
        response = client.post("/api/v1/needs", json=need_payload(visibility=visibility), headers=admin)
        assert response.status_code == 201, response.text
        built.needs[visibility] = response.json()
    # A pipeline record and a stored weekly list, so reading them can succeed.
    response = client.patch(
        f"/api/v1/matches/{built.companies['own']['id']}/{built.needs['staff']['id']}", json={"note": "gezien"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    session.add(MatchList(week=WORLD_WEEK, content=json.dumps({"week": WORLD_WEEK, "lines": []})))
    # The loket: an organisation to refer to, a programme to apply for, and a question on the inbox.
    session.add(Organisation(slug="ibdo", name="Ik Ben Drents Ondernemer (IBDO)", kind="intermediary"))
    session.commit()
    response = client.post("/api/v1/needs", json=need_payload(kind="programme", title="MKB Advies Vouchers"),
                           headers=admin)
    built.needs["programme"] = response.json()
    call_text = " ".join(f"Deel {part}: lichtgewicht composieten, sensoren en software voor drones." * 4
                         for part in range(1, 6))  # several parts (passages): a call a consortium can answer
    response = client.post("/api/v1/needs", json=need_payload(kind="call", title="Call drones",
                                                              description=call_text), headers=admin)
    built.needs["call"] = response.json()
    asked = client.post("/api/v1/questions", json={
        "text": "Wij zoeken hulp om onze sensoren aan Defensie te leveren.", "municipality": "Assen",
        "phase": "growth", "contact_email": "dora@vraag-bedrijf.example", "consent": True})
    assert asked.status_code == 201, asked.text
    inbox = client.get("/api/v1/cases", headers=admin).json()["data"]
    built.cases["asked"] = next(case for case in inbox if case["reference"] == asked.json()["reference"])
    return built
