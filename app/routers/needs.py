"""Needs: staff write; public needs are readable by anyone."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, NeedId, SessionDep, StaffDep
from app.schemas import NeedCreate, NeedKind, NeedOut, NeedsOut, NeedStatus, NeedUpdate, NldArea
from app.services import needs as need_service

router = APIRouter(prefix="/needs", tags=["needs"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NeedOut)
def create_need(need_in: NeedCreate, caller: StaffDep, session: SessionDep) -> NeedOut:
    need = need_service.create(session=session, caller=caller, need_in=need_in)
    session.commit()
    return need_service.to_out(session=session, need=need)


@router.get("", response_model=NeedsOut)
def list_needs(
    caller: CallerDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Text in title or description")] = None,
    kind: NeedKind | None = None,
    status: NeedStatus | None = None,
    nld_area: NldArea | None = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NeedsOut:
    """Anyone sees public needs; staff also see staff-only ones."""
    needs, count = need_service.list_needs(
        session=session, caller=caller, q=q, kind=kind, status=status, nld_area=nld_area, sector=sector,
        limit=limit, offset=offset,
    )
    return NeedsOut(data=[need_service.to_out(session=session, need=n) for n in needs], count=count)


@router.get("/{need_id}", response_model=NeedOut)
def read_need(need_id: NeedId, caller: CallerDep, session: SessionDep) -> NeedOut:
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    return need_service.to_out(session=session, need=need)


@router.patch("/{need_id}", response_model=NeedOut)
def update_need(
    need_id: NeedId, changes: NeedUpdate, caller: StaffDep, session: SessionDep
) -> NeedOut:
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    need_service.update(session=session, need=need, changes=changes)
    session.commit()
    return need_service.to_out(session=session, need=need)


@router.delete("/{need_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_need(need_id: NeedId, caller: StaffDep, session: SessionDep) -> Response:
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    need_service.delete(session=session, need=need)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
