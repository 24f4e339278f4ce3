"""Needs: the demand side (defence needs, programmes, calls, challenges, clusters)."""

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, String, bindparam, cast, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import Forbidden, InvalidInput, NotFound
from app.domain import NeedKind, NeedStatus, Role, Visibility
from app.models import Need, Organisation, User, id_of, metadata, utcnow
from app.schemas import NeedCreate, NeedOut, NeedUpdate, OrganisationRef
from app.services.access import Caller
from app.services.companies import contains_pattern, json_list_contains, like_anywhere


def create(*, session: Session, caller: Caller, need_in: NeedCreate) -> Need:
    """A need belongs to an organisation: the one given (an admin's choice), else the creator's."""
    fields = need_in.model_dump()
    if fields["owner_organisation_id"] is None and caller.user is not None:
        fields["owner_organisation_id"] = caller.user.organisation_id
    _check_owner(session, fields["owner_organisation_id"])
    _require_own_organisation(caller, fields["owner_organisation_id"])
    need = Need(**fields, created_by_user_id=caller.user.id if caller.user else None)
    session.add(need)
    session.flush()
    return need


def get(*, session: Session, caller: Caller, need_id: int) -> Need:
    return _visible(session.get(Need, need_id), caller, need_id)


_NEED_TABLE = metadata.tables["need"]
_NEED_ROW = sa_select(_NEED_TABLE).where(_NEED_TABLE.c.id == bindparam("need_id"))  # built once


def is_closed(need: Need | Row[Any], today: date | None = None) -> bool:
    """Closed by status, or past its deadline (shown as "gesloten")."""
    return bool(need.status == NeedStatus.closed
                or (need.deadline is not None and need.deadline < (today or date.today())))


def get_row(*, session: Session, caller: Caller, need_id: int) -> Row[Any]:
    """``get`` as a row of the need's columns, for reading only (a match request: no table object)."""
    return _visible(session.connection().execute(_NEED_ROW, {"need_id": need_id}).first(), caller, need_id)


R = TypeVar("R", Need, Row[Any])


def _visible(need: R | None, caller: Caller, need_id: int) -> R:
    # A staff-only need does not exist for anyone else: 404, not 403, so its existence does not leak.
    if need is None or (need.visibility == Visibility.staff and not caller.is_staff):
        raise NotFound(f"no need with id {need_id}", code="need_not_found")
    return need


def require_change_access(caller: Caller, need: Need) -> None:
    """Only the members of the need's organisation and admins change or delete it; a need of no
    organisation, its creator and admins."""
    user = caller.user
    if user is None:
        raise Forbidden("log in first")
    if user.role == Role.admin:
        return
    if need.owner_organisation_id is not None and need.owner_organisation_id == user.organisation_id:
        return
    if need.owner_organisation_id is None and need.created_by_user_id == user.id:
        return
    raise Forbidden("only the members of the need's organisation and admins may change or delete it")


def _require_own_organisation(caller: Caller, organisation_id: int | None) -> None:
    user = caller.user
    if user is not None and user.role != Role.admin and organisation_id != user.organisation_id:
        raise Forbidden("a need belongs to your own organisation: leave owner_organisation_id out or send your own")


def update(*, session: Session, caller: Caller, need: Need, changes: NeedUpdate) -> Need:
    require_change_access(caller, need)
    values = changes.model_dump(exclude_unset=True)
    never_empty = ("title", "description", "kind", "status", "visibility", "nld_areas", "sectors",
                   "eligible_regions")
    for required in never_empty:
        if required in values and values[required] is None:
            raise InvalidInput(f"{required} cannot be emptied: send a new value instead")
    if "owner_organisation_id" in values:
        _check_owner(session, values["owner_organisation_id"])
        _require_own_organisation(caller, values["owner_organisation_id"])
    for field, value in values.items():
        setattr(need, field, value)
    need.updated_at = utcnow()
    session.add(need)
    session.flush()
    return need


def delete(*, session: Session, caller: Caller, need: Need) -> None:
    require_change_access(caller, need)
    session.delete(need)
    session.flush()


def filter_conditions(
    *,
    include_staff_only: bool,
    q: str | None = None,
    kind: NeedKind | None = None,
    status: NeedStatus | None = None,
    nld_area: str | None = None,
    sector: str | None = None,
) -> list[ColumnElement[bool]]:
    """SQL conditions for the need filters shared by the list and matching."""
    conditions: list[ColumnElement[bool]] = []
    if not include_staff_only:
        conditions.append(col(Need.visibility) == Visibility.public)
    if q:
        pattern = contains_pattern(q)
        conditions.append(
            or_(
                func.lower(col(Need.title)).like(pattern, escape="\\"),
                func.lower(col(Need.description)).like(pattern, escape="\\"),
            )
        )
    if kind:
        conditions.append(col(Need.kind) == kind)
    if status:
        conditions.append(col(Need.status) == status)
    if nld_area:
        conditions.append(json_list_contains(col(Need.nld_areas), nld_area))
    if sector:
        conditions.append(json_list_contains(col(Need.sectors), sector))
    return conditions


def open_to_regions(regions: list[str]) -> ColumnElement[bool]:
    """SQL: the need is open to every region (no eligible regions) or to one of these."""
    stored = cast(col(Need.eligible_regions), String)
    # A list of names holds a quote; each name is stored as JSON text, so it is looked for as such.
    return or_(
        stored.notlike('%"%'),
        *(stored.like(like_anywhere(json.dumps(region)), escape="\\") for region in regions),
    )


# How a list of needs may be sorted: by kind and title, the nearest deadline first, or newest first.
NEED_ORDERS = {
    "kind": (col(Need.kind), col(Need.title), col(Need.id)),
    "title": (col(Need.title), col(Need.id)),
    "deadline": (col(Need.deadline).is_(None), col(Need.deadline), col(Need.title), col(Need.id)),
    "newest": (col(Need.created_at).desc(), col(Need.id).desc()),
}


def list_needs(
    *, session: Session, caller: Caller, limit: int = 50, offset: int = 0, order: str = "kind",
    regions: list[str] | None = None, deadline_open: bool | None = None, **filters: Any,
) -> tuple[list[Need], int]:
    """``regions``: open to one of these; ``deadline_open``: True for needs whose deadline has not
    passed (or that have none), False for those past it."""
    conditions = filter_conditions(include_staff_only=caller.is_staff, **filters)
    if regions:
        conditions.append(open_to_regions(regions))
    if deadline_open is True:
        conditions.append(or_(col(Need.deadline).is_(None), col(Need.deadline) >= date.today()))
    elif deadline_open is False:
        conditions.append(col(Need.deadline) < date.today())
    count = session.exec(select(func.count()).select_from(Need).where(*conditions)).one()
    ordered = select(Need).where(*conditions).order_by(*NEED_ORDERS[order])
    needs = session.exec(ordered.offset(offset).limit(limit)).all()
    return list(needs), count


def to_out(*, session: Session, need: Need) -> NeedOut:
    owner = session.get(Organisation, need.owner_organisation_id) if need.owner_organisation_id else None
    return _out(need, owner)


def _out(need: Need | Row[Any], owner: Organisation | None) -> NeedOut:
    return NeedOut(
        **(need.model_dump() if isinstance(need, Need) else need._mapping),
        owner=organisation_out(owner) if owner else None,
        closed=is_closed(need),
    )


def to_out_many(*, session: Session, needs: Sequence[Need | Row[Any]]) -> list[NeedOut]:
    """``to_out`` for several needs, their owners read in one query."""
    owner_ids = {n.owner_organisation_id for n in needs if n.owner_organisation_id is not None}
    owners: dict[int, Organisation] = {}
    if owner_ids:
        found = session.exec(select(Organisation).where(col(Organisation.id).in_(owner_ids)))
        owners = {id_of(organisation): organisation for organisation in found}
    return [
        _out(need, owners.get(need.owner_organisation_id) if need.owner_organisation_id is not None else None)
        for need in needs
    ]


_NEEDS_BY_ID = select(Need).where(col(Need.id).in_(bindparam("ids", expanding=True)))  # built once


_NEED_ROWS_BY_ID = sa_select(_NEED_TABLE).where(_NEED_TABLE.c.id.in_(bindparam("ids", expanding=True)))


def rows_by_id(*, session: Session, need_ids: list[int]) -> dict[int, Row[Any]]:
    """The needs with these ids that exist, as rows of their columns (one query, no table
    objects: a list of matches only shows them), by id."""
    if not need_ids:
        return {}
    return {row.id: row for row in session.connection().execute(_NEED_ROWS_BY_ID, {"ids": need_ids})}


def get_many(*, session: Session, need_ids: list[int]) -> dict[int, Need]:
    """The needs with these ids that exist (one query), by id."""
    if not need_ids:
        return {}
    return {id_of(need): need for need in session.exec(_NEEDS_BY_ID, params={"ids": need_ids}).all()}


def organisation_ref(session: Session, user: User) -> OrganisationRef | None:
    if user.organisation_id is None:
        return None
    organisation = session.get(Organisation, user.organisation_id)
    return organisation_out(organisation) if organisation else None


def organisation_out(organisation: Organisation) -> OrganisationRef:
    return OrganisationRef(id=id_of(organisation), slug=organisation.slug, name=organisation.name)


def _check_owner(session: Session, organisation_id: int | None) -> None:
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise InvalidInput(f"owner_organisation_id {organisation_id} does not exist: see GET /api/v1/organisations")
