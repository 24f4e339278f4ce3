"""Consortium suggestions for a call or a larger need (staff)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import EngineDep, NeedId, SessionDep, StaffDep
from app.domain import Fit
from app.schemas_consortia import Consortia
from app.services import consortia as consortium_service

router = APIRouter(tags=["matching"])


@router.get(
    "/needs/{need_id}/consortia",
    response_model=Consortia,
    responses={
        409: {"description": "The need is closed: ask with include_closed=true"},
        422: {"description": "The need has too few parts for a consortium"},
        503: {"description": "The matching index is still being built: try again shortly"},
    },
)
def consortia(
    need_id: NeedId,
    caller: StaffDep,
    session: SessionDep,
    engine: EngineDep,
    size: Annotated[int, Query(ge=2, le=4, description="Companies per group")] = 3,
    include_closed: Annotated[bool, Query(description="Also for a closed call or one past its deadline")] = False,
    min_fit: Annotated[Fit, Query(description="The weakest band of fit a member may have (default `fair`)")] = Fit.fair,
) -> Consortia:
    """Staff: up to five groups of companies that together cover the need's parts (its passages).

    Each member is chosen for the parts it covers best, each group for coverage with little
    overlap, preferring a company with defence experience beside one without. Each suggestion
    quotes which company covers which part, and names the parts nobody in it covers.
    """
    return consortium_service.suggest(session=session, engine=engine, caller=caller, need_id=need_id, size=size,
                                      include_closed=include_closed, min_fit=min_fit)
