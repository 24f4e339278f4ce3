"""Writes are answered once stored and taken into the matching index from the change log after,
with match requests served first (app/services/indexing.py)."""

import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.matching.encoders import EncodeKind, HashingEncoder
from app.matching.engine import MatchEngine
from app.services import indexing
from app.services.indexing import IndexFollower
from app.services.matching import MatchingState
from tests.factories import bearer, company_payload, create_need
from tests.test_matching_api import NIGHT_VISION
from tests.waiting import wait_until

HELD_BACK = "Wachtrij"  # a company whose name holds this word is encoded only once the gate opens


class GatedEncoder(HashingEncoder):
    """The test encoder, which holds back texts with HELD_BACK until ``gate`` is set: a write
    that is still being indexed, for as long as the test needs."""

    def __init__(self, gate: threading.Event, dim: int, name: str) -> None:
        super().__init__(dim, name=name)
        self.gate = gate

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        if any(HELD_BACK in text for text in texts):
            assert self.gate.wait(30), "the test never opened the gate"
        return super().encode(texts, kind=kind)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    opened = threading.Event()
    yield opened
    opened.set()  # never leave the follower waiting


@pytest.fixture
def state(tmp_path, gate) -> Iterator[MatchingState]:
    engine = MatchEngine(tmp_path / "matching", GatedEncoder(gate, 128, "dense-test"),
                         HashingEncoder(96, name="multi-test"))
    following = MatchingState.ready_with(engine, follow_in_background=True)
    yield following
    gate.set()
    following.close()


@pytest.fixture
def mclient(state) -> Iterator[TestClient]:
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


def indexed_ids(state: MatchingState, side: str) -> set[int]:
    return set(state.engine.snapshot(side).documents)


def matched_names(client: TestClient, need_id: int, token: str) -> list[str]:
    response = client.get(f"/api/v1/needs/{need_id}/matches", headers=bearer(token))
    assert response.status_code == 200, response.text
    return [item["company"]["name"] for item in response.json()["items"]]


def test_a_registration_is_answered_before_matching_knows_it_and_matched_soon_after(
    mclient, state, gate, staff_tokens
):
    adviser = staff_tokens["adviser"]
    need = create_need(mclient, adviser, title="Nachtzicht", description=NIGHT_VISION)
    assert wait_until(lambda: need["id"] in indexed_ids(state, "need"))

    answer = mclient.post("/api/v1/companies", headers=bearer(adviser), json=company_payload(
        name=f"{HELD_BACK} Optiek", description="Nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen."))

    assert answer.status_code == 201, answer.text  # answered while its text waits to be encoded
    assert answer.json()["indexing"] == "pending"
    assert f"{HELD_BACK} Optiek" not in matched_names(mclient, need["id"], adviser)  # reads go on meanwhile

    gate.set()
    assert wait_until(lambda: answer.json()["id"] in indexed_ids(state, "company"))
    assert matched_names(mclient, need["id"], adviser)[0] == f"{HELD_BACK} Optiek"


def test_an_edit_is_matched_with_its_new_text_soon_after_its_answer(mclient, state, gate, staff_tokens):
    adviser = staff_tokens["adviser"]
    company = mclient.post("/api/v1/companies", headers=bearer(adviser), json=company_payload(
        name="Veenstra", description="Lassen en constructiewerk voor de bouw.")).json()
    assert wait_until(lambda: company["id"] in indexed_ids(state, "company"))

    changed = mclient.patch(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]},
                            json={"description": f"{HELD_BACK}: nachtzichtapparatuur en warmtebeeld."})

    assert changed.status_code == 200, changed.text
    assert changed.json()["indexing"] == "pending"
    gate.set()
    assert wait_until(lambda: "nachtzicht" in state.engine.snapshot("company").documents[company["id"]].document.text)


def test_a_company_that_withdraws_consent_is_out_of_the_index_when_answered(mclient, state, staff_tokens):
    adviser = staff_tokens["adviser"]
    company = mclient.post("/api/v1/companies", headers=bearer(adviser), json=company_payload()).json()
    assert wait_until(lambda: company["id"] in indexed_ids(state, "company"))

    withdrawn = mclient.patch(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]},
                              json={"consent_matching": False})

    assert withdrawn.json()["indexing"] == "off"
    assert company["id"] not in indexed_ids(state, "company")


def test_an_erased_company_is_out_of_the_index_when_its_erasure_is_answered(mclient, state, staff_tokens):
    company = mclient.post("/api/v1/companies", headers=bearer(staff_tokens["adviser"]),
                           json=company_payload()).json()
    assert wait_until(lambda: company["id"] in indexed_ids(state, "company"))

    erased = mclient.delete(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})

    assert erased.status_code == 204
    assert company["id"] not in indexed_ids(state, "company")


def test_the_follower_waits_while_match_requests_come_in_but_not_for_ever(monkeypatch):
    monkeypatch.setattr(indexing, "READS_FIRST_SECONDS", 0.6)
    monkeypatch.setattr(indexing, "POLL_SECONDS", 60)  # only woken by the test
    # A reader thread on a busy machine may not run every 5 ms: quiet means no read for 0.2 s here.
    monkeypatch.setattr(indexing, "QUIET_SECONDS", 0.2)
    applied_at: list[float] = []
    last_read = {"at": float("-inf")}

    def catch_up() -> int:
        applied_at.append(time.monotonic())
        return 1

    follower = IndexFollower(catch_up, lambda: last_read["at"])
    follower.start()
    try:
        follower.wake()
        assert wait_until(lambda: len(applied_at) == 1, 5)  # no reads: at once

        reading = threading.Event()

        def requests_coming_in() -> None:
            while not reading.is_set():
                last_read["at"] = time.monotonic()
                time.sleep(0.005)

        reader = threading.Thread(target=requests_coming_in)
        reader.start()
        assert wait_until(lambda: last_read["at"] > float("-inf"), 5)
        woken = time.monotonic()
        follower.wake()
        assert wait_until(lambda: len(applied_at) == 2, 5)
        reading.set()
        reader.join()
        assert applied_at[1] - woken >= 0.5  # the reads went first…
        assert applied_at[1] - woken < 3  # …for at most READS_FIRST_SECONDS
    finally:
        follower.stop()


def test_an_edit_is_answered_while_the_index_encodes_other_writes(mclient, state, gate, staff_tokens):
    adviser = staff_tokens["adviser"]
    company = mclient.post("/api/v1/companies", headers=bearer(adviser), json=company_payload(
        name="Veenstra", description="Lassen en constructiewerk voor de bouw.")).json()
    assert wait_until(lambda: company["id"] in indexed_ids(state, "company"))
    mclient.post("/api/v1/companies", headers=bearer(adviser), json=company_payload(
        name=f"{HELD_BACK} Optiek", description="Nachtzichtapparatuur en warmtebeeldcamera's."))
    assert wait_until(state._lock.locked)  # the follower holds the index while it encodes
    opener = threading.Timer(10, gate.set)  # without the gate opened the edit would wait for good
    opener.start()
    started = time.monotonic()

    edited = mclient.patch(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]},
                           json={"employees": 12})

    waited = time.monotonic() - started
    opener.cancel()
    gate.set()
    assert edited.status_code == 200, edited.text
    assert waited < 5, f"the edit waited {waited:.1f} s for the index"
    assert wait_until(lambda: len(indexed_ids(state, "company")) == 2)  # the held-back one too
