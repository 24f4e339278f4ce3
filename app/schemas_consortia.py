"""Response shapes of the consortium suggestions for a call or a larger need."""

from pydantic import BaseModel, Field

from app.schemas_pipeline import CompanyRef


class PartRef(BaseModel):
    index: int = Field(description="The part's position in the need (0 is the first)")
    quote: str = Field(description="The start of the part, as the need words it")


class CoveredPart(PartRef):
    company_quote: str = Field(description="What the company's profile says that covers the part")
    score: float = Field(description="How well the company covers the part, 0-1")


class ConsortiumMember(BaseModel):
    company: CompanyRef
    parts: list[CoveredPart] = Field(description="The parts this company covers best in the group")


class Consortium(BaseModel):
    members: list[ConsortiumMember]
    covered_parts: int
    total_parts: int
    overlap_parts: int = Field(description="Parts more than one member covers")
    uncovered: list[PartRef] = Field(description="The parts nobody in the group covers")
    with_defence_experience: bool
    without_defence_experience: bool
    why: str


class BestSingle(BaseModel):
    company: CompanyRef
    covered_parts: int


class Consortia(BaseModel):
    items: list[Consortium]
    total_parts: int
    best_single: BestSingle | None = Field(description="The one company that covers the most parts on its own")
    closed: bool = Field(description="The need is closed or past its deadline (gesloten)")
