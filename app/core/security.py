"""Passwords and tokens.

API tokens and company edit tokens are random strings, shown once and stored only as a SHA-256
hash (with a short prefix kept in clear so a person can tell their tokens apart).
"""

import hashlib
import hmac
import secrets

from pwdlib import PasswordHash

_password_hash = PasswordHash.recommended()

TOKEN_PREFIX_LENGTH = 8


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _password_hash.verify(password, password_hash)


def new_token(kind: str) -> str:
    """A random token such as ``kk_api_3Vh…`` (kind says what it opens)."""
    return f"kk_{kind}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)
