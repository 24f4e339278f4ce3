"""Request and response shapes of the JSON API.

Validation messages say what to fix; taxonomy values (municipalities, sectors, regions) are checked
against the shipped vocabularies in ``app.taxonomy``.
"""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.text import clean_value

# Re-exported ("X as X"): the API's enums are the domain's.
from app.domain import CompanySource as CompanySource
from app.domain import CompanyStatus as CompanyStatus
from app.domain import DefenceExperience as DefenceExperience
from app.domain import FeedbackScope as FeedbackScope
from app.domain import Indexing as Indexing
from app.domain import MatchEventKind as MatchEventKind
from app.domain import NeedKind as NeedKind
from app.domain import NeedStatus as NeedStatus
from app.domain import NoteVisibility as NoteVisibility
from app.domain import PipelineStatus as PipelineStatus
from app.domain import Role as Role
from app.domain import Visibility as Visibility
from app.taxonomy import VocabularyEntry, get_taxonomy

NldArea = Literal["intelligente-systemen", "sensoren", "slimme-materialen", "ruimtetechnologie", "quantumtechnologie"]


# Timestamps are stored in UTC; SQLite hands them back without an offset, so the offset is restored here
# and every answer carries an RFC 3339 date-time ("…+00:00") whichever database is used.
UtcDatetime = Annotated[datetime, AfterValidator(lambda v: v if v.tzinfo else v.replace(tzinfo=UTC))]

# Ids are 32-bit database integers (PostgreSQL `integer`): a larger id must be refused, not sent to the driver.
MAX_ID = 2_147_483_647
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]

KVK_PATTERN = re.compile(r"^[0-9]{8}$")  # ASCII digits only: \d also takes full-width and Arabic-Indic ones
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()\-]{6,20}$")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Capability = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CompanyDescription = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=10_000)]
NeedDescription = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=50_000)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000, pattern=r"^https?://\S+$")]
Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://\S+$")]


class Input(BaseModel):
    """A request body: unknown fields are refused, and so is any text with a control character
    (app/core/text.py), in every field, named in the 422."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_control_characters(cls, value: object, info: ValidationInfo) -> object:
        return clean_value(value, info.field_name or "this field")


def check_kvk(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().replace(" ", "").replace(".", "")
    if not KVK_PATTERN.fullmatch(value):
        raise ValueError("kvk_number must be exactly 8 digits, e.g. 12345678")
    return value


def check_municipality(value: str | None) -> str | None:
    if value is None:
        return None
    municipality = get_taxonomy().municipality(value)
    if municipality is None:
        raise ValueError(
            f"unknown municipality {value!r}: use a Dutch municipality name as listed by GET /api/v1/taxonomy"
        )
    return municipality.name


def check_sectors(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    known = get_taxonomy().sector_slugs
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown sector(s) {unknown}: choose from {sorted(known)}")
    return list(dict.fromkeys(values))


def check_regions(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    known = get_taxonomy().regions
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown region(s) {unknown}: choose from {list(known)}")
    return list(dict.fromkeys(values))


def check_region(value: str | None) -> str | None:
    if value:
        check_regions([value])
    return value


def check_sector(value: str | None) -> str | None:
    if value:
        check_sectors([value])
    return value


def check_phone(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    if not PHONE_PATTERN.match(value.strip()):
        raise ValueError("contact_phone must be a phone number of 6-20 digits, e.g. +31 592 123456")
    return value.strip()


def dedupe(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


# --- companies -------------------------------------------------------------------------------


class CompanyFields(Input):
    """The profile fields a company or an adviser may set."""

    website: Website | None = None
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    sectors: list[str] = Field(default_factory=list, max_length=20)
    nld_areas: list[NldArea] = Field(default_factory=list, max_length=5)
    capabilities: list[Capability] = Field(default_factory=list, max_length=30)
    defence_experience: DefenceExperience = DefenceExperience.none
    contact_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    contact_phone: str | None = Field(default=None, max_length=40)
    consent_defence_contact: bool = Field(
        default=False, description="May Defence parties (scouts, Regioteam) see the contact details?"
    )
    weekly_match_mail: bool = Field(
        default=False, description="Send the contact a weekly e-mail about new strong matches?"
    )

    _sectors = field_validator("sectors")(check_sectors)
    _nld = field_validator("nld_areas", "capabilities")(dedupe)
    _phone = field_validator("contact_phone")(check_phone)


class CompanyCreate(CompanyFields):
    name: Name
    kvk_number: str = Field(description="Chamber of Commerce (KvK) number: 8 digits")
    municipality: str = Field(max_length=100, description="Dutch municipality, e.g. Emmen")
    description: CompanyDescription = Field(description="What the company does: the text matched on")
    contact_email: EmailStr = Field(max_length=320)
    consent: bool = Field(description="Consent to store this profile and match it: must be true")

    _kvk = field_validator("kvk_number")(check_kvk)
    _municipality = field_validator("municipality")(check_municipality)

    @field_validator("consent")
    @classmethod
    def _must_consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("consent must be true: Koppelkans stores and matches a profile only with consent")
        return value


class CompanyUpdate(Input):
    """Every field optional; only the fields sent are changed."""

    name: Name | None = None
    kvk_number: str | None = None
    municipality: str | None = Field(default=None, max_length=100)
    description: CompanyDescription | None = None
    website: Website | None = None
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    sectors: list[str] | None = Field(default=None, max_length=20)
    nld_areas: list[NldArea] | None = Field(default=None, max_length=5)
    capabilities: list[Capability] | None = Field(default=None, max_length=30)
    defence_experience: DefenceExperience | None = None
    contact_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    contact_email: EmailStr | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=40)
    consent_matching: bool | None = None
    consent_defence_contact: bool | None = None
    weekly_match_mail: bool | None = None
    status: CompanyStatus | None = Field(default=None, description="Staff only")

    _kvk = field_validator("kvk_number")(check_kvk)
    _municipality = field_validator("municipality")(check_municipality)
    _sectors = field_validator("sectors")(check_sectors)
    _nld = field_validator("nld_areas", "capabilities")(dedupe)
    _phone = field_validator("contact_phone")(check_phone)


class Contact(BaseModel):
    name: str | None
    email: str | None
    phone: str | None


class Consents(BaseModel):
    matching: bool
    defence_contact: bool
    weekly_match_mail: bool = Field(default=False, description="A weekly e-mail about new strong matches")


class CompanyOut(BaseModel):
    """A company as a caller sees it: ``contact`` and ``consents`` are null unless the caller may see them."""

    id: int
    slug: str | None
    name: str
    kvk_number: str | None
    municipality: str | None
    regions: list[str]
    description: str
    website: str | None
    employees: int | None
    sectors: list[str]
    nld_areas: list[str]
    capabilities: list[str]
    defence_experience: DefenceExperience
    status: CompanyStatus
    source: CompanySource
    source_ref: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    contact: Contact | None = None
    consents: Consents | None = None
    stale: bool = Field(default=False, description="Staff only: not updated for 12 months (verouderd)")


INDEXING_DESCRIPTION = (
    "When matching knows this write: `pending` (queued, matched within seconds), `done`, or `off` (never "
    "matched: matching is switched off, or the company is not active or did not consent to matching)")


class CompanyWritten(CompanyOut):
    """A company as its writer sees it after a change, with when matching knows the change."""

    indexing: Indexing = Field(description=INDEXING_DESCRIPTION)


class CompanyRegistered(CompanyWritten):
    edit_token: str = Field(
        description="Shown once: send it as header X-Edit-Token to read, change or erase the profile"
    )


class RegistrationReceived(BaseModel):
    """What an anonymous registration is told, whether its KvK number was new or known."""

    message: str = Field(description="In Dutch: the next step comes by e-mail to the company's contact address")


class CompaniesOut(BaseModel):
    data: list[CompanyOut]
    count: int


# --- needs -----------------------------------------------------------------------------------


class NeedFields(Input):
    owner_organisation_id: DbId | None = None
    nld_areas: list[NldArea] = Field(default_factory=list, max_length=5)
    sectors: list[str] = Field(default_factory=list, max_length=20)
    eligible_regions: list[str] = Field(default_factory=list, max_length=50)
    deadline: date | None = None
    budget_eur: int | None = Field(default=None, ge=0, le=10**12)
    budget_note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    url: Url | None = None
    status: NeedStatus = NeedStatus.open
    visibility: Visibility = Visibility.public

    _sectors = field_validator("sectors")(check_sectors)
    _regions = field_validator("eligible_regions")(check_regions)
    _nld = field_validator("nld_areas")(dedupe)


class NeedCreate(NeedFields):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
    description: NeedDescription
    kind: NeedKind


class NeedUpdate(Input):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)] | None = None
    description: NeedDescription | None = None
    kind: NeedKind | None = None
    owner_organisation_id: DbId | None = None
    nld_areas: list[NldArea] | None = Field(default=None, max_length=5)
    sectors: list[str] | None = Field(default=None, max_length=20)
    eligible_regions: list[str] | None = Field(default=None, max_length=50)
    deadline: date | None = None
    budget_eur: int | None = Field(default=None, ge=0, le=10**12)
    budget_note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    url: Url | None = None
    status: NeedStatus | None = None
    visibility: Visibility | None = None

    _sectors = field_validator("sectors")(check_sectors)
    _regions = field_validator("eligible_regions")(check_regions)
    _nld = field_validator("nld_areas")(dedupe)


class OrganisationRef(BaseModel):
    id: int
    slug: str
    name: str


class NeedOut(BaseModel):
    id: int
    slug: str | None
    title: str
    description: str
    kind: NeedKind
    owner: OrganisationRef | None
    nld_areas: list[str]
    sectors: list[str]
    eligible_regions: list[str]
    deadline: date | None
    budget_eur: int | None
    budget_note: str | None
    url: str | None
    status: NeedStatus
    visibility: Visibility
    source_ref: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    closed: bool = Field(default=False, description="Closed or past its deadline (shown as gesloten)")


class NeedWritten(NeedOut):
    """A need as its writer sees it after a change, with when matching knows the change."""

    indexing: Indexing = Field(description=INDEXING_DESCRIPTION)


class NeedsOut(BaseModel):
    data: list[NeedOut]
    count: int


# --- people, tokens, taxonomy ----------------------------------------------------------------


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: UtcDatetime | None


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    organisation: OrganisationRef | None


class MunicipalityOut(BaseModel):
    name: str
    province: str
    regions: list[str]


class TaxonomyOut(BaseModel):
    nld_areas: list[VocabularyEntry]
    sectors: list[VocabularyEntry]
    need_kinds: list[VocabularyEntry]
    regions: list[str]
    municipalities: list[MunicipalityOut]
