"""Shared set-up for the loket's tests: the seed data loaded and a small deterministic engine
that holds it, behind a real app."""

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.db import get_engine
from app.main import create_app
from app.matching.encoders import HashingEncoder
from app.matching.engine import MatchEngine
from app.services.matchable import documents_from_database
from app.services.matching import MatchingState
from app.services.seeding import load_seed

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"
# The first build's saved index, per demo flag: later tests load a copy (the seed gets the same ids
# every time, on an emptied database) instead of encoding a thousand passages again.
_SAVED: dict[bool, Path] = {}


def seeded_engine(folder: Path, *, demo: bool = False) -> MatchEngine:
    """The seed data in the database, and an engine (hashing encoders) in step with it."""
    with Session(get_engine()) as session:
        load_seed(session, SEED_DIR, demo=demo)
    if demo in _SAVED:
        shutil.copytree(_SAVED[demo], folder)
    engine = MatchEngine(folder, HashingEncoder(128, name="dense-test"), HashingEncoder(96, name="multi-test"))
    with Session(get_engine()) as session:
        engine.load_or_build(lambda side: documents_from_database(session, side))
    if demo not in _SAVED:
        engine.save()
        saved = Path(tempfile.mkdtemp(prefix="koppelkans-seeded-index-"))
        atexit.register(shutil.rmtree, saved, ignore_errors=True)
        shutil.copytree(folder, saved / "matching")
        _SAVED[demo] = saved / "matching"
    return engine


def seeded_client(folder: Path, *, demo: bool = False) -> Iterator[TestClient]:
    state = MatchingState.ready_with(seeded_engine(folder, demo=demo))
    with TestClient(create_app(matching_state=state)) as client:
        yield client


def question(**overrides: object) -> dict:
    payload = {
        "text": "Wij ontwikkelen sensoren voor het meten van waterkwaliteit en zoeken toepassingen.",
        "municipality": "Emmen",
        "phase": "start-up",
        "contact_email": "vraag@bedrijf.example.org",
        "consent": True,
    }
    payload.update(overrides)
    return payload
