"""Dependencies shared by the routers: the database session and who is calling."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings, get_settings
from app.core.db import new_session, read
from app.core.errors import Forbidden, TooManyRequests, Unauthorized
from app.matching.engine import MatchEngine
from app.models import Company, CompanyRecord
from app.schemas import MAX_ID
from app.services import companies as company_service
from app.services import rate_limits
from app.services import users as user_service
from app.services.access import Caller
from app.services.matching import MatchingState
from app.services.recording import RecordJournal


async def get_session() -> AsyncIterator[Session]:
    """One session per request: committed when the request succeeds, rolled back when it fails.

    Creating a session opens no connection, so it is made on the event loop; the commit or
    rollback at the end runs in a worker thread, as any database I/O. A request that committed
    itself (most writing endpoints do, so that they answer only what is stored) holds no
    connection any more, and its session is closed without another trip through the thread pool.
    """
    session = new_session()
    try:
        yield session
    except BaseException:
        # Shielded: a request cancelled because its client went away still lets go of its connection.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, commit=False)
        raise
    if session.in_transaction():
        await run_in_threadpool(_end, session, commit=True)
    else:
        session.close()


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()  # a failed commit is rolled back here


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="An API token or a token from POST /api/v1/auth/token")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_caller(credentials: BearerDep) -> Caller:
    """Who is calling: the bearer token's user (one read, on the event loop for SQLite: see db.read;
    none for a token looked up in the last few seconds: services/token_cache.py)."""
    if credentials is None:
        return Caller()
    token = credentials.credentials
    user = user_service.recently_seen_user(token)
    if user is None:
        user = await read(lambda session: user_service.user_for_token(session=session, token=token))
    if user is None:
        raise Unauthorized("the bearer token is unknown, revoked or expired: log in again or create a new token")
    return Caller(user=user)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def require_staff(caller: CallerDep) -> Caller:
    if caller.user is None:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    if not caller.is_staff:
        raise Forbidden("this is for staff only")
    return caller


async def require_desk(caller: CallerDep) -> Caller:
    if caller.user is None:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    if not caller.is_desk:
        raise Forbidden("this is for advisers and admins only")
    return caller


async def require_list_reader(caller: CallerDep) -> Caller:
    """Weekly lists: the Regioteam and the provincial desk."""
    if caller.user is None:
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    if not caller.reads_weekly_lists:
        raise Forbidden("weekly match lists are for the Regioteam, advisers and admins")
    return caller


StaffDep = Annotated[Caller, Depends(require_staff)]
ListReaderDep = Annotated[Caller, Depends(require_list_reader)]
DeskDep = Annotated[Caller, Depends(require_desk)]


CompanyId = Annotated[int, Path(ge=1, le=MAX_ID, description="The company's id")]
NeedId = Annotated[int, Path(ge=1, le=MAX_ID, description="The need's id")]


def valid_company(company_id: CompanyId, session: SessionDep) -> Company:
    return company_service.get(session=session, company_id=company_id)


CompanyDep = Annotated[Company, Depends(valid_company)]


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[!-~]+$",
        description="A key of your own (e.g. a UUID) for this one request: sending the request again with it "
        "within 24 hours gets the first answer again instead of a second record",
    ),
]

EditTokenHeader = Annotated[
    str | None, Header(description="The company's own edit token, from its registration", max_length=200)
]


def caller_for_company(company: CompanyRecord, caller: Caller, x_edit_token: str | None) -> Caller:
    """The caller, recognised as the company itself when its edit token is sent; 401 without any credentials."""
    if x_edit_token is not None:
        if not company_service.check_edit_token(company, x_edit_token):
            raise Forbidden("X-Edit-Token does not belong to this company")
        return Caller(user=caller.user, company_id=company.id)
    if caller.user is None:
        raise Unauthorized("send Authorization: Bearer <token> (staff) or X-Edit-Token (the company itself)")
    return caller


def readable_company(
    session: Session, company_id: int, caller: Caller, x_edit_token: str | None
) -> tuple[Row[Any], Caller]:
    """A company's row for a read, and its reader: staff, or the company itself by its edit
    token (404 when there is no such company, 401 or 403 when the caller may not read it)."""
    company = company_service.get_row(session=session, company_id=company_id)
    reader = caller_for_company(company, caller, x_edit_token)
    company_service.require_access(reader, company)
    return company, reader


async def company_caller(
    company: CompanyDep, caller: CallerDep, x_edit_token: EditTokenHeader = None
) -> Caller:
    return caller_for_company(company, caller, x_edit_token)


CompanyCallerDep = Annotated[Caller, Depends(company_caller)]


def get_matching_state(request: Request) -> MatchingState:
    state = getattr(request.app.state, "matching", None)
    if state is None:
        state = request.app.state.matching = MatchingState.switched_off()
    return state


async def _matching_state(request: Request) -> MatchingState:
    """``get_matching_state`` as a dependency: no I/O, so it runs on the event loop."""
    return get_matching_state(request)


MatchingStateDep = Annotated[MatchingState, Depends(_matching_state)]


async def ready_engine(state: MatchingStateDep) -> MatchEngine:
    return await state.current_engine()


EngineDep = Annotated[MatchEngine, Depends(ready_engine)]


async def get_journal(request: Request) -> RecordJournal:
    """The application's journal of what match lists record (services/recording.py)."""
    journal: RecordJournal = request.app.state.journal
    return journal


JournalDep = Annotated[RecordJournal, Depends(get_journal)]


class RateLimit:
    """Limits anonymous callers per client address; staff with a valid bearer token are not limited.

    The counters are in the database, shared by every worker process (services/rate_limits.py).
    """

    def __init__(self, name: str, limit_setting: str) -> None:
        self.name = name
        self.limit_setting = limit_setting

    def __call__(self, request: Request, caller: CallerDep, settings: SettingsDep) -> None:
        if caller.is_staff:
            return
        client = request.client.host if request.client else "unknown"
        retry_after = rate_limits.hit(limiter=self.name, client=client, limit=getattr(settings, self.limit_setting),
                                      window_seconds=settings.rate_limit_window_seconds)
        if retry_after:
            raise TooManyRequests(
                f"too many {self.name} requests from this address: retry in {retry_after} s", retry_after
            )


registration_limit = RateLimit("registration", "registration_rate_limit")
login_limit = RateLimit("login", "login_rate_limit")
