"""Needs: staff write; public needs are readable by anyone."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.deps import CallerDep, IdempotencyKeyHeader, NeedId, SessionDep, StaffDep
from app.models import id_of
from app.schemas import NeedCreate, NeedKind, NeedOut, NeedsOut, NeedStatus, NeedUpdate, NldArea
from app.services import idempotency
from app.services import needs as need_service

router = APIRouter(prefix="/needs", tags=["needs"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NeedOut)
def create_need(
    need_in: NeedCreate, caller: StaffDep, session: SessionDep, idempotency_key: IdempotencyKeyHeader = None,
) -> NeedOut:
    """Staff. With `Idempotency-Key`, the same request within 24 hours gets the first answer again
    instead of a second need; the same key with another body gets 422."""
    key = idempotency.IdempotencyKey.of("POST /needs", caller, idempotency_key, need_in)
    replayed = idempotency.replay(session, key)
    if replayed is not None and replayed.need_id is not None:
        need = need_service.get(session=session, caller=caller, need_id=replayed.need_id)
        return need_service.to_out(session=session, need=need)
    need = need_service.create(session=session, caller=caller, need_in=need_in)
    idempotency.remember(session, key, status_code=status.HTTP_201_CREATED, need_id=id_of(need))
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
    need_service.update(session=session, caller=caller, need=need, changes=changes)
    session.commit()
    return need_service.to_out(session=session, need=need)


@router.delete("/{need_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_need(need_id: NeedId, caller: StaffDep, session: SessionDep) -> Response:
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    need_service.delete(session=session, caller=caller, need=need)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
