"""Request and response shapes of working the matches: the pipeline board, a match's history,
the weekly lists and the dashboard."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.domain import DefenceExperience, MatchEventKind, NeedKind, PipelineStatus
from app.schemas import DbId, UtcDatetime


class MatchChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PipelineStatus | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    owner_user_id: DbId | None = Field(default=None, description="The user who owns the match; null removes the owner")


class MatchFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relevant: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


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
