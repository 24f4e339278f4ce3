"""``Idempotency-Key`` on create requests: a retry after a lost answer gets the first answer again.

A client that sends ``Idempotency-Key: <its own random string>`` with ``POST /companies`` or
``POST /needs`` may send the same request again (its answer was lost to the network or a crash)
and gets the first answer again, for a day, instead of a second record or a conflict. The same
key with a different body is refused (422): the key names one request.

Keys are scoped to the operation and the caller, and stored only hashed, beside the body's hash,
the status and the id of what was created; the answer is read again from that record. The edit
token of a company registered by staff cannot be read again (it is stored hashed), so with a key
it is derived from the key and the settings' secret: the retry shows the same token.
"""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel
from sqlmodel import Session, col, delete, select

from app.core.config import get_settings
from app.core.errors import InvalidInput
from app.models import IdempotentRequest, utcnow
from app.services.access import Caller

LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotencyKey:
    key_hash: str  # of the operation, the caller and the client's key
    request_hash: str  # of the validated body

    @classmethod
    def of(cls, operation: str, caller: Caller, key: str | None, body: BaseModel) -> "IdempotencyKey | None":
        """The key of this request, or None when the client sent none."""
        if key is None:
            return None
        scoped = f"{operation}\n{caller.label}\n{key}"
        canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return cls(_sha256(scoped), _sha256(canonical))

    def edit_token(self) -> str:
        """The edit token a company created with this key gets, the same on every retry."""
        secret = get_settings().secret_key.encode()
        digest = hmac.new(secret, f"edit-token\n{self.key_hash}".encode(), hashlib.sha256).digest()
        return "kk_edit_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Replay:
    status_code: int
    company_id: int | None
    need_id: int | None


def replay(session: Session, key: IdempotencyKey | None) -> Replay | None:
    """The first answer's status and record when this key was used in the last day; 422 when it was
    used with another body."""
    if key is None:
        return None
    found = session.exec(
        select(IdempotentRequest).where(
            IdempotentRequest.key_hash == key.key_hash, col(IdempotentRequest.created_at) >= utcnow() - LIFETIME
        )
    ).first()
    if found is None:
        return None
    if not hmac.compare_digest(found.request_hash, key.request_hash):
        raise InvalidInput(
            "this Idempotency-Key was used in the last 24 hours with a different body: "
            "send a new key for a new request, or the first request's body to get its answer again"
        )
    return Replay(found.status_code, found.company_id, found.need_id)


def remember(
    session: Session, key: IdempotencyKey | None, *, status_code: int, company_id: int | None = None,
    need_id: int | None = None,
) -> None:
    """Keeps the answer's status and record for the key, in the caller's transaction; forgets keys
    older than a day (an expired key may be used again)."""
    if key is None:
        return
    session.exec(delete(IdempotentRequest).where(col(IdempotentRequest.created_at) < utcnow() - LIFETIME))
    session.exec(delete(IdempotentRequest).where(col(IdempotentRequest.key_hash) == key.key_hash))
    session.add(IdempotentRequest(key_hash=key.key_hash, request_hash=key.request_hash, status_code=status_code,
                                  company_id=company_id, need_id=need_id))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
