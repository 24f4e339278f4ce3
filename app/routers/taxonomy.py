"""Public vocabularies and organisations."""

from fastapi import APIRouter

from app.deps import SessionDep
from app.schemas import MunicipalityOut, OrganisationRef, TaxonomyOut
from app.services import needs as need_service
from app.services import users as user_service
from app.taxonomy import get_taxonomy

router = APIRouter(tags=["taxonomy"])


@router.get("/taxonomy", response_model=TaxonomyOut)
def taxonomy() -> TaxonomyOut:
    """NLD areas, sectors, need kinds, regions and every Dutch municipality with its regions."""
    vocab = get_taxonomy()
    return TaxonomyOut(
        nld_areas=list(vocab.nld_areas),
        sectors=list(vocab.sectors),
        need_kinds=list(vocab.need_kinds),
        regions=list(vocab.regions),
        municipalities=[
            MunicipalityOut(name=m.name, province=m.province, regions=list(m.regions))
            for m in sorted(vocab.municipalities.values(), key=lambda m: m.name)
        ],
    )


@router.get("/organisations", response_model=list[OrganisationRef])
def organisations(session: SessionDep) -> list[OrganisationRef]:
    """The organisations that own needs or that users belong to."""
    return [need_service.organisation_out(o) for o in user_service.organisations(session=session)]
