"""Request and response shapes of matching: the companies that fit a need, the needs that fit a
company, and free-text search, each match with its explanation."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from app.domain import DefenceExperience, Fit, NeedKind, PipelineStatus
from app.matching.explain import Explanation
from app.schemas import CompanyOut, Input, NeedOut, NldArea, check_region, check_sector


class CompanyMatch(BaseModel):
    company: CompanyOut
    score: float = Field(ge=0.0, le=1.0, description=(
        "The pair's calibrated probability of fit: the same number wherever the pair is shown"))
    fit: Fit = Field(description="The band of the score: strong ≥ 0.5, fair ≥ 0.2, weak below")
    name_match: bool = Field(default=False, description="The query is this record's name, KvK number or identifier")
    explanation: Explanation = Field(
        description="Best passage of each side, shared terms and tags, each signal's share")
    pipeline_status: PipelineStatus | None = Field(
        default=None, description="Where this pair stands in the pipeline")


class NeedMatch(BaseModel):
    need: NeedOut
    score: float = Field(ge=0.0, le=1.0, description=(
        "The pair's calibrated probability of fit: the same number wherever the pair is shown"))
    fit: Fit = Field(description="The band of the score: strong ≥ 0.5, fair ≥ 0.2, weak below")
    name_match: bool = Field(default=False, description="The query is this record's name, KvK number or identifier")
    explanation: Explanation = Field(
        description="Best passage of each side, shared terms and tags, each signal's share")
    pipeline_status: PipelineStatus | None = None




class CompanyMatches(BaseModel):
    items: list[CompanyMatch]
    total: int = Field(default=0, description="How many matches the list holds (0: nothing fits well enough)")


class NeedMatches(BaseModel):
    items: list[NeedMatch]
    total: int = Field(default=0, description="How many matches the list holds (0: nothing fits well enough)")


class SearchFilters(Input):
    region: str | None = Field(default=None, max_length=100)
    municipality: str | None = Field(default=None, max_length=100)
    nld_area: NldArea | None = None
    sector: str | None = Field(default=None, max_length=100)
    defence_experience: DefenceExperience | None = None
    kind: NeedKind | None = None
    include_closed: bool = False

    _region = field_validator("region")(check_region)
    _sector = field_validator("sector")(check_sector)


class SearchRequest(Input):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    target: Literal["companies", "needs"]
    limit: int = Field(default=10, ge=1, le=100)
    min_fit: Fit = Field(default=Fit.fair, description="The weakest band to list: `weak` lists every match found")
    filters: SearchFilters = Field(default_factory=SearchFilters)
