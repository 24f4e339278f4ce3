"""People, their roles and their API tokens."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from app.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from app.core.security import TOKEN_PREFIX_LENGTH, hash_password, hash_token, new_token, verify_password
from app.models import ApiToken, Organisation, User, id_of
from app.schemas import Role
from app.services import token_cache

# A hash to verify against when the user does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_PASSWORD_HASH = hash_password("not-a-real-password")


def create_user(
    *,
    session: Session,
    username: str,
    role: Role | str,
    full_name: str = "",
    organisation_slug: str | None = None,
    password: str | None = None,
) -> User:
    if role not in Role.__members__:
        raise InvalidInput(f"unknown role {role!r}: choose from {', '.join(Role.__members__)}")
    username = username.strip()
    if not username:
        raise InvalidInput("username must not be empty")
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"a user named {username!r} already exists")
    organisation_id = None
    if organisation_slug:
        organisation = session.exec(
            select(Organisation).where(Organisation.slug == organisation_slug)
        ).first()
        if organisation is None:
            raise NotFound(f"no organisation with slug {organisation_slug!r} (run `koppelkans seed` first?)")
        organisation_id = organisation.id
    user = User(
        username=username,
        full_name=full_name,
        role=Role(role),
        organisation_id=organisation_id,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, user: User, password: str) -> None:
    """A new password also ends every session and token issued before (whoever knew the old one)."""
    user.password_hash = hash_password(password)
    end_sessions(session=session, user=user)


def end_sessions(*, session: Session, user: User) -> None:
    """Every session cookie and bearer token issued to the user so far stops working."""
    user.session_version += 1
    session.add(user)


def set_active(*, session: Session, user: User, active: bool) -> None:
    """Disabling a user also ends its sessions: enabling it again does not bring them back."""
    if not active:
        end_sessions(session=session, user=user)
    user.is_active = active
    session.add(user)


def issue_token(
    *, session: Session, user: User, name: str = "", lifetime: timedelta | None = None
) -> tuple[str, ApiToken]:
    """Creates a token; the clear text is returned once and stored only as a hash."""
    token = new_token("api")
    record = ApiToken(
        user_id=id_of(user),
        name=name,
        prefix=token[: len("kk_api_") + TOKEN_PREFIX_LENGTH],
        token_hash=hash_token(token),
        expires_at=datetime.now(UTC) + lifetime if lifetime else None,
        session_version=user.session_version,
    )
    session.add(record)
    session.flush()
    return token, record


WEB_LOGIN = "web login"  # the name of the token record that stands for one browser's login


def start_web_login(*, session: Session, user: User, lifetime: timedelta) -> int:
    """The id of a record of one browser's login, which the session cookie carries. Logging out
    revokes it, so a copy of that cookie kept elsewhere stops working too; its clear token is
    thrown away, so the record is no bearer token."""
    _token, record = issue_token(session=session, user=user, name=WEB_LOGIN, lifetime=lifetime)
    return id_of(record)


def web_login_holds(*, session: Session, user: User, login_id: int) -> bool:
    """Whether this browser login of ``user`` was neither logged out nor has expired."""
    record = session.get(ApiToken, login_id)
    if record is None or record.revoked or record.user_id != user.id or record.name != WEB_LOGIN:
        return False
    return record.expires_at is None or _aware(record.expires_at) >= datetime.now(UTC)


def revoke_token(*, session: Session, token: str) -> None:
    """The bearer token ``token`` stops working (the commit also ends it in this process's token cache)."""
    record = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if record is not None:
        record.revoked = True
        session.add(record)


def end_web_login(*, session: Session, login_id: int) -> None:
    record = session.get(ApiToken, login_id)
    if record is not None and record.name == WEB_LOGIN:
        record.revoked = True
        session.add(record)


def authenticate(*, session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.password_hash is None:
        verify_password(password, _DUMMY_PASSWORD_HASH)
        raise Unauthorized("wrong username or password")
    if not verify_password(password, user.password_hash) or not user.is_active:
        raise Unauthorized("wrong username or password")
    return user


# Asked on every authenticated request: one statement, built once.
_USER_BY_TOKEN = (
    select(User, ApiToken.revoked, ApiToken.expires_at, ApiToken.session_version)
    .join(ApiToken, col(ApiToken.user_id) == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def active_user(*, session: Session, user_id: int) -> User | None:
    """The user with this id, unless removed or blocked."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def by_username(*, session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def first_admin(*, session: Session) -> User | None:
    return session.exec(select(User).where(User.role == Role.admin).order_by(col(User.id))).first()


def staff(*, session: Session) -> list[User]:
    """Every active user with a staff role, by name: who can own a match."""
    users = session.exec(select(User).where(col(User.is_active).is_(True))).all()
    return sorted((u for u in users if u.role in Role.__members__), key=lambda u: (u.full_name or u.username).lower())


def organisations(*, session: Session) -> list[Organisation]:
    """Every organisation, by name."""
    return list(session.exec(select(Organisation).order_by(Organisation.name)).all())


def recently_seen_user(token: str) -> User | None:
    """The user of a token looked up in the last few seconds (token_cache.py), without a read."""
    return token_cache.tokens.user(hash_token(token))


def user_for_token(*, session: Session, token: str) -> User | None:
    token_hash = hash_token(token)
    found = session.exec(_USER_BY_TOKEN, params={"token_hash": token_hash}).first()
    if found is None:
        return None
    user, revoked, expires_at, session_version = found
    if revoked or not user.is_active or session_version != user.session_version:
        return None
    expires_at = _aware(expires_at) if expires_at is not None else None
    if expires_at is not None and expires_at < datetime.now(UTC):
        return None
    token_cache.tokens.keep(token_hash, user, expires_at)
    return user


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; everything is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
