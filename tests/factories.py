"""Helpers that build valid test data; override any field to test one thing at a time."""

import itertools

from sqlmodel import Session

from app.services import users as user_service

_kvk_numbers = itertools.count(10_000_001)


def next_kvk() -> str:
    return f"{next(_kvk_numbers):08d}"


def company_payload(**overrides) -> dict:
    payload = {
        "name": "Veenstra Precisietechniek",
        "kvk_number": next_kvk(),
        "municipality": "Emmen",
        "description": (
            "Verspanend toeleverancier: CNC-frezen en draaien van precisieonderdelen in aluminium en titanium."
        ),
        "contact_name": "J. Veenstra",
        "contact_email": "info@veenstra.example.org",
        "contact_phone": "+31 591 123456",
        "sectors": ["maakindustrie"],
        "nld_areas": ["slimme-materialen"],
        "capabilities": ["CNC-frezen", "draaien"],
        "consent": True,
    }
    payload.update(overrides)
    return payload


def need_payload(**overrides) -> dict:
    payload = {
        "title": "Lichtgewicht composieten voor drones",
        "description": "Lichtgewicht, sterke materialen voor defensie, ruimtevaart, drones en voertuigen.",
        "kind": "defence_need",
        "nld_areas": ["slimme-materialen"],
    }
    payload.update(overrides)
    return payload


def make_user(session: Session, *, role: str, username: str | None = None, password: str | None = None):
    """Creates a user and returns (user, bearer token)."""
    user = user_service.create_user(
        session=session, username=username or f"{role}-{next(_kvk_numbers)}", role=role, password=password
    )
    token, _ = user_service.issue_token(session=session, user=user)
    session.commit()
    return user, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_company(client, **overrides) -> dict:
    """Registers a company through the API (as itself) and returns the answer, edit token included."""
    response = client.post("/api/v1/companies", json=company_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def create_need(client, token: str, **overrides) -> dict:
    response = client.post("/api/v1/needs", json=need_payload(**overrides), headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()
