"""Finding 9: erasing a company removes its text from every file in the data folder at once: the
saved matching index (documents, postings), the outbox, and the SQLite database with its
write-ahead log. Grepped byte for byte (UTF-8, and UTF-32 as numpy stores strings) after DELETE."""

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.main import create_app
from app.services import mail
from app.services.matching import MatchingState
from tests.factories import bearer, company_payload, create_need
from tests.test_matching_api import make_engine

UNIQUE = uuid.uuid4().hex[:8]
COMPANY = {
    "name": f"Zwaluwstaart Precisie {UNIQUE}",
    "description": "Kwikzilverlegeringen en zwaluwstaartverbindingen voor pantservoertuigen, met eigen gieterij.",
    "contact_name": "Gerritdina Zwaluwstaart",
    "contact_email": f"gerritdina-{UNIQUE}@zwaluw-precisie.example",
    "contact_phone": "+31 599 765432",
    "capabilities": ["kwikzilvergieten"],
}
# What must be nowhere after the erasure: the name, contact details, and words of the description
# (a stem's first letters too: the postings' vocabulary holds stems).
NEEDLES = [COMPANY["name"], COMPANY["contact_name"], COMPANY["contact_email"], COMPANY["contact_phone"],
           "zwaluwstaartverbind", "kwikzilverleger", "kwikzilvergiet"]


def found_in(folder: Path) -> dict[str, list[str]]:
    """Which needles each file of the folder holds (case-insensitive, UTF-8 or UTF-32)."""
    hits: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        try:
            content = path.read_bytes().lower()
        except FileNotFoundError:
            continue
        for needle in NEEDLES:
            lowered = needle.lower()
            if lowered.encode() in content or lowered.encode("utf-32-le") in content:
                hits.setdefault(str(path.relative_to(folder)), []).append(needle)
    return hits


def registered(client: TestClient, admin_token: str, **fields: object) -> dict:
    """A company registered by an admin (201 with its edit token)."""
    response = client.post("/api/v1/companies", json=company_payload(**fields), headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def data_folder() -> Path:
    return get_settings().data_dir


def test_erasure_leaves_the_company_s_text_in_no_file_of_the_data_folder(data_folder, session):
    from tests.factories import make_user

    state = MatchingState.ready_with(make_engine(data_folder / f"matching-{UNIQUE}"))
    with TestClient(create_app(matching_state=state)) as client:
        _user, token = make_user(session, role="admin")
        company = registered(client, token, **COMPANY)
        mail.queue_mail(session, to=COMPANY["contact_email"], subject=f"Welkom, {COMPANY['name']}",
                        body=f"Beste {COMPANY['contact_name']},", purpose="test", company_id=company["id"])
        session.commit()
        mail.send_due()
        need = create_need(client, token, title="Pantser", description="Gietwerk voor pantservoertuigen van Defensie.")
        client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(token))
        client.patch(f"/api/v1/matches/{company['id']}/{need['id']}", headers=bearer(token),
                     json={"note": f"Bellen met {COMPANY['contact_name']}"})
        state.engine.save()  # the index as a running server leaves it on disk
        before = found_in(data_folder)
        saved_index = [path for path in before if "documents.jsonl" in path]
        assert saved_index and any("lexical.npz" in path for path in before), before
        assert any(path.startswith("outbox") for path in before), before
        if get_settings().is_sqlite:
            assert any(path.startswith("koppelkans.db") for path in before), before

        erased = client.delete(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})
        assert erased.status_code == 204
        assert found_in(data_folder) == {}  # at once, with the server still running
        state.engine.save()
    assert found_in(data_folder) == {}  # and after it saved its index on the way out


def test_a_saved_index_without_the_erased_text_still_loads_and_matches(data_folder, session):
    """The emptied rows keep the saved files in line: the next start loads them."""
    from tests.factories import make_user

    folder = data_folder / f"matching-reload-{UNIQUE}"
    state = MatchingState.ready_with(make_engine(folder))
    with TestClient(create_app(matching_state=state)) as client:
        _user, token = make_user(session, role="admin")
        erased = registered(client, token, **{**COMPANY, "name": "Te Wissen BV"})
        kept = registered(client, token, name="Blijvend Gietwerk BV",
                          description="Gietwerk en pantserdelen voor voertuigen van Defensie.")
        state.engine.save()
        assert client.delete(f"/api/v1/companies/{erased['id']}",
                             headers={"X-Edit-Token": erased["edit_token"]}).status_code == 204
    reloaded = make_engine(folder)
    from app.matching.store import Document

    reloaded.load_or_build()
    results = reloaded.match(Document("need", 0, "gietwerk voor pantservoertuigen"), target="company", limit=5)
    ids = [result.id for result in results]
    assert kept["id"] in ids and erased["id"] not in ids
    reloaded.close()
