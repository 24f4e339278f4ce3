"""Table models: the one place the database schema is declared.

The request and response shapes live in ``app/schemas.py``; list fields (sectors, NLD areas …)
are JSON arrays of taxonomy slugs so SQLite and PostgreSQL store them alike.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar, Union

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from app.domain import (
    CompanySource,
    CompanyStatus,
    DefenceExperience,
    MailStatus,
    MatchEventKind,
    NeedKind,
    NeedStatus,
    NoteVisibility,
    OrganisationKind,
    PipelineStatus,
    Role,
    Visibility,
)
from app.names import name_key

# Explicit constraint names, so migrations are the same on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


# A company or need as a table object, or as a row of its columns: reads that answer a request and
# change nothing load rows, which the session does not track.
CompanyRecord = Union["Company", Row[Any]]
NeedRecord = Union["Need", Row[Any]]


class Stored(Protocol):
    """A record of any table: its id is set once the session flushes it."""

    id: int | None


def stored_ids(ids: Iterable[int | None]) -> list[int]:
    """Ids read from a primary-key column: never null, though the tables type them optional."""
    return [found for found in ids if found is not None]


def id_of(record: Stored | Row[Any]) -> int:
    """The database id of a stored record (or of a row of its columns). The tables type ``id``
    optional because a new record gets it only when the session flushes; past that point this
    gives it as an ``int``."""
    found: int | None = record.id
    if found is None:
        raise ValueError(f"{type(record).__name__} has no id yet: flush the session first")
    return found


E = TypeVar("E", bound=StrEnum)


class StoredEnum(TypeDecorator[E]):
    """A member of one of the domain's StrEnums, stored as its plain string (VARCHAR): a new member
    needs no migration. A value outside the enum is refused before it reaches the database, and
    values read back are members again."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def _enum(enum: type[E], length: int, **kwargs: Any) -> Any:
    return Field(sa_type=StoredEnum(enum, length), **kwargs)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=200)
    kind: OrganisationKind = _enum(OrganisationKind, 30, default=OrganisationKind.intermediary)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    url: str | None = Field(default=None, max_length=1000)
    source_ref: str | None = Field(default=None, max_length=300)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    full_name: str = Field(default="", max_length=200)
    role: Role = _enum(Role, 20)
    organisation_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="SET NULL"))
    )
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    # Raised to end every session cookie and token issued before (logout everywhere, a new
    # password, disabling the user, `koppelkans users revoke`); each one carries the version it got.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _timestamp()


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(default="", max_length=100)
    prefix: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked: bool = False
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # its user's, when issued


class Company(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str | None = Field(default=None, max_length=100, unique=True)  # seed records only
    name: str = Field(max_length=200, index=True)
    # The name as searches compare it (app/names.py), kept with every write of the name.
    name_key: str = Field(default="", max_length=800, index=True)
    kvk_number: str | None = Field(default=None, max_length=8, unique=True)  # empty only for seed records
    municipality: str | None = Field(default=None, max_length=100, index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    website: str | None = Field(default=None, max_length=500)
    employees: int | None = None
    sectors: list[str] = _json_list()
    nld_areas: list[str] = _json_list()
    capabilities: list[str] = _json_list()
    defence_experience: DefenceExperience = _enum(DefenceExperience, 20, default=DefenceExperience.none, index=True)
    # Personal data: shown only to those entitled to it (see app/services/visibility.py).
    contact_name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=40)
    consent_matching: bool = True
    consent_defence_contact: bool = False
    # The contact asked for a weekly e-mail about new strong matches (app/services/match_mail.py).
    weekly_match_mail: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    status: CompanyStatus = _enum(CompanyStatus, 20, default=CompanyStatus.active, index=True)
    source: CompanySource = _enum(CompanySource, 20, default=CompanySource.self)
    source_ref: str | None = Field(default=None, max_length=300)
    edit_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    # When the one reminder to update a profile untouched for a year went out (app/services/freshness.py).
    stale_reminder_sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    registered_by_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user.id", ondelete="SET NULL"))
    )
    created_at: datetime = _timestamp(index=True)
    updated_at: datetime = _timestamp()


@event.listens_for(Company, "before_insert")
@event.listens_for(Company, "before_update")
def _keep_name_key(_mapper: Any, _connection: Any, company: Company) -> None:
    company.name_key = name_key(company.name)


class Need(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str | None = Field(default=None, max_length=100, unique=True)
    title: str = Field(max_length=300)
    description: str = Field(sa_column=Column(Text, nullable=False))
    kind: NeedKind = _enum(NeedKind, 20, index=True)
    owner_organisation_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="SET NULL"))
    )
    nld_areas: list[str] = _json_list()
    sectors: list[str] = _json_list()
    eligible_regions: list[str] = _json_list()
    deadline: date | None = None
    budget_eur: int | None = Field(default=None, sa_type=BigInteger)
    budget_note: str | None = Field(default=None, max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    status: NeedStatus = _enum(NeedStatus, 10, default=NeedStatus.open, index=True)
    visibility: Visibility = _enum(Visibility, 10, default=Visibility.public)
    source_ref: str | None = Field(default=None, max_length=300)
    created_by_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user.id", ondelete="SET NULL"))
    )
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class AuditEvent(SQLModel, table=True):
    """Who read or changed personal data. Holds ids and actions, never the personal data itself."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(index=True)
    actor: str = Field(max_length=100)  # "user:3 (adviser)", "company:12", "anonymous", "cli"
    action: str = Field(max_length=40)  # register, read_contact, update, erase, export …
    subject_type: str = Field(max_length=20)
    subject_id: int | None = Field(default=None, index=True)
    detail: str = Field(default="", max_length=500)


class Match(SQLModel, table=True):
    """A company–need pair someone worked on (triage, a note, an owner, feedback, consent), and where it stands."""

    __table_args__ = (UniqueConstraint("company_id", "need_id"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(
        sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    need_id: int = Field(
        sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    status: PipelineStatus = _enum(PipelineStatus, 20, default=PipelineStatus.new, index=True)
    owner_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user.id", ondelete="SET NULL"))
    )
    owner_organisation_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="SET NULL"))
    )
    last_score: float | None = None
    # An admin's feedback for everyone; False keeps the pair out of lists and match results. An
    # organisation's own "not relevant" is a MatchDismissal.
    relevant: bool | None = None
    feedback_reason: str | None = Field(default=None, max_length=500)
    closing_reason: str | None = Field(default=None, max_length=500)  # why lost or parked
    # The company withdrew its consent to this introduction: no `consented` or `introduced` until it
    # consents again, even with its general consent to Defence contact.
    consent_withdrawn: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class MatchEvent(SQLModel, table=True):
    """Every change to a match: who, when, from which status to which, with the note."""

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(
        sa_column=Column(Integer, ForeignKey("match.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    at: datetime = _timestamp(index=True)
    actor: str = Field(max_length=100)
    kind: MatchEventKind = _enum(MatchEventKind, 20)
    from_status: PipelineStatus | None = _enum(PipelineStatus, 20, default=None)
    to_status: PipelineStatus | None = _enum(PipelineStatus, 20, default=None)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    # internal: staff only; shared: the company reads it too (its export, its answers).
    visibility: NoteVisibility = _enum(NoteVisibility, 10, default=NoteVisibility.internal,
                                       sa_column_kwargs={"server_default": NoteVisibility.internal.value})


class MatchDismissal(SQLModel, table=True):
    """An organisation's "not relevant" for a company–need pair: hidden from that organisation's
    people only (an admin's feedback for everyone is ``Match.relevant``)."""

    __tablename__ = "match_dismissal"
    __table_args__ = (UniqueConstraint("company_id", "need_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(
        sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), nullable=False)
    )
    need_id: int = Field(
        sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    organisation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user.id", ondelete="SET NULL"))
    )
    reason: str = Field(default="", max_length=500)
    at: datetime = _timestamp()


class IntroductionConsent(SQLModel, table=True):
    """A company's consent to be introduced to the owner of one need (releases its contact details there)."""

    __table_args__ = (UniqueConstraint("company_id", "need_id"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(
        sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    need_id: int = Field(sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=False))
    consented_at: datetime = _timestamp()


class MatchList(SQLModel, table=True):
    """A weekly match list, stored once built so it reads the same forever."""

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=8, unique=True)  # ISO week, e.g. 2026-W48
    built_at: datetime = _timestamp()
    content: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON of the lines


class IndexChange(SQLModel, table=True):
    """A company or need write the matching index must follow, numbered in commit order.

    Written in the same transaction as the write itself (a flush hook in app/services/change_log.py),
    so every worker process can catch its own index up with writes made through the others.
    """

    __tablename__ = "index_change"

    id: int | None = Field(default=None, primary_key=True)  # the sequence number
    side: str = Field(max_length=10)  # company | need
    record_id: int
    at: datetime = _timestamp()


class LoketCase(SQLModel, table=True):
    """A question asked at the loket, kept as a case on the desk's inbox; once an adviser takes it
    on, it is a trajectory (IBDO-traject) with its articulated question, referrals, programmes and
    outcome."""

    __tablename__ = "loket_case"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # what the asker quotes, e.g. LK-7K3M-Q9PA
    text: str = Field(sa_column=Column(Text, nullable=False))
    language: str = Field(default="unknown", max_length=10)
    municipality: str = Field(max_length=100)
    kvk_number: str | None = Field(default=None, max_length=8)
    phase: str = Field(max_length=20)  # Phase
    # Personal data: shown only to the desk (app/services/cases.py).
    contact_email: str | None = Field(default=None, max_length=320)
    consented_at: datetime = _timestamp()
    topics: list[str] = _json_list()
    route: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # the answer given, as JSON
    status: str = Field(default="new", max_length=20, index=True)  # CaseStatus
    assigned_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user.id", ondelete="SET NULL"), index=True)
    )
    answer: str = Field(default="", sa_column=Column(Text, nullable=False))
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    articulated_question: str = Field(default="", sa_column=Column(Text, nullable=False))
    company_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("company.id", ondelete="SET NULL"), index=True)
    )
    trajectory_started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    outcome: str | None = Field(default=None, max_length=20)  # TrajectoryOutcome
    outcome_note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _timestamp(index=True)
    updated_at: datetime = _timestamp()


class CaseEvent(SQLModel, table=True):
    """Every step on a case: who, when, what (CaseEventKind), with a note."""

    __tablename__ = "loket_case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("loket_case.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    at: datetime = _timestamp()
    actor: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class CaseReferral(SQLModel, table=True):
    """A trajectory's referral of the company to an organisation (IBDO, Founded, MINDbase Noord …)."""

    __tablename__ = "loket_case_referral"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("loket_case.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    organisation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False)
    )
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    at: datetime = _timestamp(index=True)


class CaseProgramme(SQLModel, table=True):
    """A programme a trajectory's company applied for, and how the application ended."""

    __tablename__ = "loket_case_programme"
    __table_args__ = (UniqueConstraint("case_id", "need_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("loket_case.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    need_id: int = Field(sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=False))
    status: str = Field(default="applied", max_length=20)  # ApplicationStatus
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    applied_at: datetime = _timestamp()
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)


class OutboxMail(SQLModel, table=True):
    """An e-mail queued in the transaction that decided to send it, sent after that commits.

    Once sent (or given up) the address, subject and body are emptied: the row keeps only what was
    sent to which company, and when. Erasing the company deletes its mail (ON DELETE CASCADE).
    """

    __tablename__ = "outbox_mail"

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=40)  # e.g. registration, registration_attempt, edit_link
    company_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), index=True)
    )
    to_address: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=300)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: MailStatus = _enum(MailStatus, 10, default=MailStatus.queued)
    attempts: int = 0
    next_attempt_at: datetime = _timestamp(index=True)
    claimed_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error: str = Field(default="", max_length=200)  # the error's kind and SMTP code, never an address
    created_at: datetime = _timestamp()
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class IdempotentRequest(SQLModel, table=True):
    """A create request sent with an ``Idempotency-Key``: the same key within a day gets the same answer.

    Holds hashes, the status and the id of what was created, never the request's or the answer's
    content; the answer is read again from that record (and goes with it when it is erased).
    """

    __tablename__ = "idempotent_request"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)  # sha256 of the operation, the caller and the key
    request_hash: str = Field(max_length=64)  # sha256 of the validated body
    status_code: int
    company_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), index=True)
    )
    need_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), index=True)
    )
    created_at: datetime = _timestamp(index=True)


class Follow(SQLModel, table=True):
    """A staff member follows a company or a need: its new suggestions reach their match inbox.
    Exactly one of ``company_id`` and ``need_id`` is set."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    company_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("company.id", ondelete="CASCADE"), nullable=True)
    )
    need_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), nullable=True)
    )
    created_at: datetime = _timestamp()


class WriteJournal(SQLModel, table=True):
    """How much of a process's journal of page records is committed (app/services/recording.py): the
    journal file's name and its bytes done, updated in the transaction that commits them."""

    __tablename__ = "write_journal"

    name: str = Field(max_length=200, primary_key=True)
    done_bytes: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = _timestamp()


class RateCounter(SQLModel, table=True):
    """Requests per client and fixed window of one rate limit, shared by every worker process
    (app/services/rate_limits.py). The client is a hash of its address, never the address itself."""

    __tablename__ = "rate_counter"

    limiter: str = Field(max_length=40, primary_key=True)
    client: str = Field(max_length=64, primary_key=True)
    window: int = Field(sa_type=BigInteger, primary_key=True, index=True)  # window start / window length
    hits: int = 0


class Lease(SQLModel, table=True):
    """Work that one process of all does at a time (the precompute): whoever holds the row's
    lease until ``expires_at`` does it, renewing the lease while it lives."""

    name: str = Field(max_length=40, primary_key=True)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class PrecomputePass(SQLModel, table=True):
    """One pass of the precompute over a company main segment: which companies it searched, as
    sorted 64-bit keys of (id, content hash) (app/services/shared_precompute.py)."""

    __tablename__ = "precompute_pass"

    id: int | None = Field(default=None, primary_key=True)
    holder: str = Field(max_length=200)
    companies: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = _timestamp()


class PrecomputedNeed(SQLModel, table=True):
    """A need's companies as a precompute pass kept them (their ids, int32), for every process to
    score again in its own index instead of searching for them."""

    __tablename__ = "precomputed_need"

    need_id: int = Field(sa_column=Column(Integer, ForeignKey("need.id", ondelete="CASCADE"), primary_key=True))
    content_hash: str = Field(max_length=64)  # of the need's text as searched
    pass_id: int = Field(
        sa_column=Column(Integer, ForeignKey("precompute_pass.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    company_ids: bytes = Field(sa_type=LargeBinary)
    computed_at: datetime = _timestamp()
