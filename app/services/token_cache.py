"""Bearer tokens looked up lately, kept for a few seconds: most API calls come in runs with one
token, and its lookup (a hash and a joined read of token and user) is a share of every call.

A revocation ends a cached token at once in the process that commits it: any commit that
changes a user or a token empties the cache (logout everywhere, a new password, disabling a
user, a revoked token). Other processes (another uvicorn worker, `koppelkans users revoke`) are
not told: there a revoked token works for at most TOKEN_CACHE_SECONDS more. A token found
unknown is never kept, so a new token works at once everywhere.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import event
from sqlmodel import Session

from app.models import ApiToken, User

TOKEN_CACHE_SECONDS = 5.0
MAX_TOKENS = 10_000  # a bound on memory; the least recently used go first
_CHANGED_KEY = "koppelkans.users_changed"


class _Entry(NamedTuple):
    user: User  # detached and only read: requests share it
    expires_at: datetime | None  # the token's own expiry
    kept_until: float  # monotonic


class TokenCache:
    def __init__(self, seconds: float = TOKEN_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def user(self, token_hash: str) -> User | None:
        """The user of a token looked up less than ``seconds`` ago and not expired; None: look it up."""
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            if entry.kept_until < self._clock() or (
                    entry.expires_at is not None and entry.expires_at <= datetime.now(UTC)):
                del self._entries[token_hash]
                return None
            self._entries.move_to_end(token_hash)
            return entry.user

    def keep(self, token_hash: str, user: User, expires_at: datetime | None) -> None:
        with self._lock:
            self._entries[token_hash] = _Entry(user, expires_at, self._clock() + self.seconds)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > MAX_TOKENS:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


tokens = TokenCache()


@event.listens_for(Session, "after_flush")
def _note_user_changes(session: Session, _flush_context: object) -> None:
    if any(isinstance(obj, User | ApiToken) for obj in (*session.dirty, *session.deleted)):
        session.info[_CHANGED_KEY] = True


@event.listens_for(Session, "after_commit")
def _forget_tokens_after_user_changes(session: Session) -> None:
    if session.info.pop(_CHANGED_KEY, False):
        tokens.clear()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_note(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)
