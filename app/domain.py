"""The service's vocabulary: every role, status, kind and band, defined once.

Table models, request and response schemas, services, templates and the command line import
these; the database stores their values as plain strings, so SQLite and PostgreSQL hold them
alike and a new member needs no migration.
"""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    adviser = "adviser"
    scout = "scout"
    regioteam = "regioteam"


class OrganisationKind(StrEnum):
    intermediary = "intermediary"
    defence = "defence"
    government = "government"
    knowledge = "knowledge"
    network = "network"
    eu = "eu"


class DefenceExperience(StrEnum):
    none = "none"
    indirect = "indirect"
    supplier = "supplier"


class CompanyStatus(StrEnum):
    pending = "pending"
    active = "active"
    archived = "archived"


class CompanySource(StrEnum):
    """Who put a company in: the company itself, an adviser on its behalf, or the seed data."""

    self = "self"
    adviser = "adviser"
    seed = "seed"


class NeedKind(StrEnum):
    defence_need = "defence_need"
    programme = "programme"
    call = "call"
    challenge = "challenge"
    cluster = "cluster"


class NeedStatus(StrEnum):
    open = "open"
    closed = "closed"


class Visibility(StrEnum):
    public = "public"
    staff = "staff"


class PipelineStatus(StrEnum):
    """Where a match stands, in the order the board shows them (transitions: app/services/pipeline.py)."""

    new = "new"
    triaged = "triaged"
    intro_proposed = "intro_proposed"
    consented = "consented"
    introduced = "introduced"
    meeting = "meeting"
    pilot = "pilot"
    subsidy_applied = "subsidy_applied"
    parked = "parked"
    won = "won"
    lost = "lost"


class MatchEventKind(StrEnum):
    status = "status"
    note = "note"
    owner = "owner"
    feedback = "feedback"
    consent = "consent"


class ListLineChange(StrEnum):
    """How a line of a weekly match list differs from the week before."""

    new = "new"
    changed = "changed"
    unchanged = "unchanged"
    gone = "gone"


class NoteVisibility(StrEnum):
    """Who reads a note on a match: staff only, or the company too."""

    internal = "internal"
    shared = "shared"


class FeedbackScope(StrEnum):
    """Whom a "not relevant" hides a match from: the feedback giver's organisation, or everyone (admins)."""

    organisation = "organisation"
    everyone = "everyone"


class MailStatus(StrEnum):
    """Where a queued e-mail stands: waiting (again, after a failed try), being sent by one sender,
    delivered, or given up after its last try."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Fit(StrEnum):
    """How well a company and a need fit, banded from the calibrated score (UI: sterk /
    redelijk / zwak)."""

    strong = "strong"
    fair = "fair"
    weak = "weak"


class Phase(StrEnum):
    """Where a company stands in its development, as the loket asks it ("per ontwikkelfase", 004:25)."""

    idea = "idea"
    start_up = "start-up"
    growth = "growth"
    established = "established"


class CaseStatus(StrEnum):
    """A question on the desk's inbox: new, taken on by an adviser, answered, or closed."""

    new = "new"
    in_progress = "in_progress"
    answered = "answered"
    closed = "closed"


class CaseEventKind(StrEnum):
    asked = "asked"
    assigned = "assigned"
    status = "status"
    answered = "answered"
    articulated = "articulated"
    linked = "linked"
    referral = "referral"
    programme = "programme"
    outcome = "outcome"


class ApplicationStatus(StrEnum):
    """A programme a company applied for within its trajectory, and how the application ended."""

    applied = "applied"
    granted = "granted"
    rejected = "rejected"
    withdrawn = "withdrawn"


class TrajectoryOutcome(StrEnum):
    """What a trajectory (IBDO-traject) came to."""

    referred = "referred"
    introduced = "introduced"
    programme = "programme"
    no_follow_up = "no_follow_up"
