"""Bearer tokens are kept for a few seconds after their lookup (app/services/token_cache.py),
never past their expiry, and a revocation made elsewhere ends them within those seconds."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.models import User
from app.services import token_cache
from app.services import users as user_service
from tests.factories import bearer, make_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(token_cache, "tokens", token_cache.TokenCache(clock=fake))
    return fake


def test_a_token_revoked_by_another_process_stops_working_within_the_cache_time(client, session, clock):
    user, token = make_user(session, role="adviser")
    session.commit()
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    # Another worker (or `koppelkans users revoke` elsewhere) ends the user's sessions: this
    # process is not told.
    session.exec(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    session.commit()

    clock.now += token_cache.TOKEN_CACHE_SECONDS / 2
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200  # kept, briefly
    clock.now += token_cache.TOKEN_CACHE_SECONDS
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_a_kept_token_still_ends_at_its_expiry(client, session, clock):
    user, _ = make_user(session, role="adviser")
    token, _ = user_service.issue_token(session=session, user=user, lifetime=timedelta(seconds=1))
    session.commit()
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    time.sleep(1.1)

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401

