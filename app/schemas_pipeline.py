"""Request and response shapes of working the matches: the pipeline board, a match's history,
the weekly lists and the dashboard."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.domain import DefenceExperience, FeedbackScope, MatchEventKind, NeedKind, NoteVisibility, PipelineStatus
from app.schemas import DbId, Input, UtcDatetime


class MatchChange(Input):
    status: PipelineStatus | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    note_visibility: NoteVisibility = Field(
        default=NoteVisibility.internal,
        description="internal: staff only (the default); shared: the company reads the note too",
    )
    owner_user_id: DbId | None = Field(default=None, description="The user who owns the match; null removes the owner")


class MatchFeedback(Input):
    relevant: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
    scope: FeedbackScope | None = Field(
        default=None,
        description="organisation: for the people of your organisation (the default); everyone: admins only "
        "(also the default for an admin without an organisation)",
    )


class CompanyRef(BaseModel):
    id: int
    name: str
    municipality: str | None
    defence_experience: DefenceExperience


class NeedRef(BaseModel):
    id: int
    title: str
    kind: NeedKind


class MatchEventOut(BaseModel):
    at: UtcDatetime
    actor: str
    kind: MatchEventKind
    from_status: PipelineStatus | None
    to_status: PipelineStatus | None
    note: str
    visibility: NoteVisibility = NoteVisibility.internal


class MatchOut(BaseModel):
    company: CompanyRef
    need: NeedRef
    status: PipelineStatus
    allowed_next: list[PipelineStatus]
    owner_user_id: int | None
    owner_organisation_id: int | None
    last_score: float | None
    relevant: bool | None
    feedback_reason: str | None
    closing_reason: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class MatchDetail(MatchOut):
    events: list[MatchEventOut]


class MatchesOut(BaseModel):
    data: list[MatchOut]
    count: int


class MatchListWeek(BaseModel):
    week: str
    built_at: UtcDatetime
    lines: int


class Dashboard(BaseModel):
    matches_total: int
    matches_by_status: dict[PipelineStatus, int]
    matches_by_nld_area: dict[str, int]
    matches_by_sub_region: dict[str, int]
    introductions_per_month: dict[str, int]
