"""Request and response shapes of the loket: a question and its route, the cases (trajectories) on
the desk's inbox, and the KPIs the desk reports to the province."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints, field_validator

from app.domain import ApplicationStatus, CaseStatus, DefenceExperience, Fit, Phase, TrajectoryOutcome
from app.schemas import (
    Capability,
    CompanyDescription,
    DbId,
    Input,
    Name,
    NldArea,
    OrganisationRef,
    UtcDatetime,
    check_kvk,
    check_municipality,
    check_phone,
    check_sectors,
    dedupe,
)
from app.schemas_pipeline import CompanyRef

QuestionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


# --- the question and its route ------------------------------------------------------------------


class QuestionIn(Input):
    """A company's question, suggestion or idea, in Dutch or English."""

    text: QuestionText = Field(description="The question, suggestion or idea: 10 to 5,000 characters")
    municipality: str = Field(max_length=100, description="Dutch municipality of the company, e.g. Emmen")
    kvk_number: str | None = Field(default=None, description="Chamber of Commerce (KvK) number: 8 digits")
    phase: Phase = Field(description="idea, start-up, growth or established")
    contact_email: EmailStr = Field(max_length=320, description="Where the desk answers; seen only by staff")
    consent: bool = Field(description="Consent to store the question and be contacted about it: must be true")

    _kvk = field_validator("kvk_number")(check_kvk)
    _municipality = field_validator("municipality")(check_municipality)

    @field_validator("consent")
    @classmethod
    def _must_consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("consent must be true: the desk keeps a question and answers it only with consent")
        return value


class Helper(BaseModel):
    """Who helps with the question, why, and how the question reaches them."""

    organisation: OrganisationRef
    why: str
    reach: str
    source: str = Field(description="The lines of the source documents the facts come from")


class FittingProgramme(BaseModel):
    need_id: int
    title: str
    why: str
    source: str
    budget_note: str | None = None


class FittingNeed(BaseModel):
    need_id: int
    title: str
    kind: str
    kind_label: str
    owner: str | None
    deadline: date | None
    fit: Fit
    quote: str | None = Field(description="The passage of the need that fits the question best")


class QuestionAnswer(BaseModel):
    """The route, in plain Dutch: who helps, which programmes fit the phase, which needs and open
    calls fit the question."""

    reference: str = Field(description="Quote it when you contact the desk")
    summary: str
    phase: Phase
    phase_label: str
    helpers: list[Helper]
    no_helper_note: str | None = None
    programmes: list[FittingProgramme]
    needs: list[FittingNeed]
    needs_note: str | None = Field(default=None, description="Why no needs are listed, when none are")


# --- cases (trajectories) ------------------------------------------------------------------------


class UserRef(BaseModel):
    id: int
    username: str
    full_name: str


class CaseOut(BaseModel):
    id: int
    reference: str
    status: CaseStatus
    text: str
    language: str
    municipality: str
    kvk_number: str | None
    phase: Phase
    contact_email: str | None
    topics: list[str]
    assigned_user: UserRef | None
    answer: str
    answered_at: UtcDatetime | None
    articulated_question: str
    company: CompanyRef | None
    trajectory_started_at: UtcDatetime | None
    outcome: TrajectoryOutcome | None
    outcome_note: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class CasesOut(BaseModel):
    data: list[CaseOut]
    count: int


class CaseEventOut(BaseModel):
    at: UtcDatetime
    actor: str
    kind: str
    note: str


class ReferralOut(BaseModel):
    organisation: OrganisationRef
    note: str
    at: UtcDatetime


class ApplicationOut(BaseModel):
    need_id: int
    title: str
    status: ApplicationStatus
    note: str
    applied_at: UtcDatetime
    decided_at: UtcDatetime | None


class CaseMatch(BaseModel):
    need_id: int
    title: str
    kind: str
    status: str


class CaseDetail(CaseOut):
    route: QuestionAnswer | None = Field(description="The answer the asker was given")
    events: list[CaseEventOut]
    referrals: list[ReferralOut]
    programmes: list[ApplicationOut]
    matches: list[CaseMatch] = Field(description="The linked company's matches in the pipeline")


class CaseChange(Input):
    """Only the fields sent change. Assigning an adviser starts the trajectory; an answer marks the
    case answered."""

    status: CaseStatus | None = None
    assigned_user_id: DbId | None = Field(default=None, description="The adviser; null removes the adviser")
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=10_000)] | None = None
    articulated_question: Note | None = Field(default=None, description="The vraagarticulatie")
    outcome: TrajectoryOutcome | None = None
    outcome_note: Note | None = None


class ReferralIn(Input):
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)] = Field(
        description="The organisation's slug, e.g. ibdo, founded, mindbase-noord")
    note: Note = ""


class ApplicationIn(Input):
    need_id: DbId = Field(description="A need of kind programme")
    status: ApplicationStatus = ApplicationStatus.applied
    note: Note = ""


class CaseLinkIn(Input):
    company_id: DbId


class CaseProfileIn(Input):
    """A company profile made from a case, with the company's consent; municipality, KvK number and
    e-mail address come from the case unless given here."""

    name: Name
    kvk_number: str | None = None
    description: CompanyDescription | None = Field(
        default=None, description="What the company does; the articulated question or the question if left out")
    sectors: list[str] = Field(default_factory=list, max_length=20)
    nld_areas: list[NldArea] = Field(default_factory=list, max_length=5)
    capabilities: list[Capability] = Field(default_factory=list, max_length=30)
    defence_experience: DefenceExperience = DefenceExperience.none
    contact_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    contact_phone: str | None = Field(default=None, max_length=40)
    consent_defence_contact: bool = False
    consent: bool = Field(description="The company consented to a profile being stored and matched: must be true")

    _kvk = field_validator("kvk_number")(check_kvk)
    _sectors = field_validator("sectors")(check_sectors)
    _lists = field_validator("nld_areas", "capabilities")(dedupe)
    _phone = field_validator("contact_phone")(check_phone)

    @field_validator("consent")
    @classmethod
    def _must_consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("consent must be true: a profile is made only with the company's consent")
        return value


# --- KPIs --------------------------------------------------------------------------------------


class KpiTargetOut(BaseModel):
    per_year: int | None
    text: str
    source: str


class KpiMonth(BaseModel):
    month: str = Field(description="YYYY-MM")
    trajectories: int
    advice_vouchers: int
    defence_helped: int
    introductions: int
    introduction_outcomes: dict[str, int] = Field(description="Where this month's introductions stand now")


class KpiReport(BaseModel):
    year: int
    targets: dict[str, KpiTargetOut]
    months: list[KpiMonth]
    totals: KpiMonth
