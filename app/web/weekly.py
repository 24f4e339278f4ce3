"""The weekly list for the Regioteam: grouped by need or by company, filtered, sorted by score, only
`fair` and better unless asked for more; its downloads in Dutch; building one by hand (admins)."""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.core.errors import Forbidden, InvalidInput
from app.deps import SessionDep
from app.domain import DefenceExperience, ListLineChange, NeedKind, Role
from app.services import match_lists, weekly_view
from app.services.weekly_view import Grouping, WeeklyFilters
from app.taxonomy import get_taxonomy
from app.web.pages import matching_engine
from app.web.routing import HtmlRoute, render
from app.web.session import CsrfDep, StaffVisitorDep, Visitor
from app.web.templating import FIT_CHOICES

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class WeeklyQuery:
    """The list's filters as the address carries them."""

    groep: str = Grouping.need.value
    q: str = ""
    soort: str = ""
    regio: str = ""
    ervaring: str = ""
    wijziging: str = ""
    passend: str = "redelijk"

    def params(self, **extra: Any) -> dict[str, Any]:
        defaults = WeeklyQuery()
        values = {name: value for name, value in vars(self).items() if value != getattr(defaults, name)}
        return {**values, **extra}

    def query_string(self, **extra: Any) -> str:
        return urlencode(self.params(**extra))

    def filters(self) -> WeeklyFilters:
        if self.groep not in Grouping._value2member_map_:
            raise InvalidInput("unknown grouping", code="weekly_filter_unknown")
        if self.soort and self.soort not in NeedKind.__members__:
            raise InvalidInput("unknown kind", code="weekly_filter_unknown")
        if self.ervaring and self.ervaring not in DefenceExperience.__members__:
            raise InvalidInput("unknown experience", code="weekly_filter_unknown")
        if self.wijziging and self.wijziging not in ListLineChange.__members__:
            raise InvalidInput("unknown change", code="weekly_filter_unknown")
        if self.passend not in FIT_CHOICES:
            raise InvalidInput("unknown fit", code="weekly_filter_unknown")
        if self.regio and not get_taxonomy().municipalities_in_region(self.regio):
            raise InvalidInput(f"unknown region '{self.regio}'", code="region_unknown")
        return WeeklyFilters(grouping=Grouping(self.groep), text=self.q, kind=self.soort or None,
                             region=self.regio or None, defence_experience=self.ervaring or None,
                             change=self.wijziging or None, min_fit=FIT_CHOICES[self.passend])


def weekly_query(
    groep: Annotated[str, Query(max_length=20)] = Grouping.need.value,
    q: Annotated[str, Query(max_length=200)] = "",
    soort: Annotated[str, Query(max_length=30)] = "",
    regio: Annotated[str, Query(max_length=100)] = "",
    ervaring: Annotated[str, Query(max_length=30)] = "",
    wijziging: Annotated[str, Query(max_length=20)] = "",
    passend: Annotated[str, Query(max_length=20)] = "redelijk",
) -> WeeklyQuery:
    return WeeklyQuery(groep, q.strip(), soort, regio, ervaring, wijziging, passend)


WeeklyQueryDep = Annotated[WeeklyQuery, Depends(weekly_query)]


def require_list_reader(visitor: Visitor) -> None:
    if not visitor.caller.reads_weekly_lists:  # as the API's weekly-list endpoints
        raise Forbidden("the weekly list is for the Regioteam, advisers and admins", code="weekly_list_forbidden")


def may_build(visitor: Visitor) -> bool:
    return visitor.user is not None and visitor.user.role == Role.admin


@router.get("/weeklijst")
def weekly_list(
    request: Request,
    db: SessionDep,
    visitor: StaffVisitorDep,
    query: WeeklyQueryDep,
    week: Annotated[str | None, Query(max_length=10)] = None,
    pagina: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    require_list_reader(visitor)
    weeks = match_lists.weeks(db)
    chosen = week or (weeks[0].week if weeks else None)
    page = None
    if chosen:
        page = weekly_view.grouped(match_lists.lines_of(match_lists.get(db, chosen)), query.filters(), pagina)
    this_week = match_lists.current_week()
    return render(request, "weekly.html", {
        "weeks": weeks,
        "week": chosen,
        "page": page,
        "query": query,
        "groupings": {Grouping.need.value: "Per behoefte", Grouping.company.value: "Per bedrijf"},
        "fit_choices": {"redelijk": "Redelijk en sterk", "sterk": "Alleen sterk", "alle": "Alle, ook zwak"},
        "regions": get_taxonomy().regions,
        "this_week": this_week,
        "this_week_built": any(w.week == this_week for w in weeks),
        "can_build": may_build(visitor),
    })


@router.post("/weeklijst", dependencies=[CsrfDep])
def build_this_week(request: Request, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    """Admins build this week's list when the scheduled build has not run yet (building twice changes
    nothing): the Regioteam reads the list, it does not freeze the week early."""
    require_list_reader(visitor)
    if not may_build(visitor):
        raise Forbidden("only admins build a weekly list by hand", code="build_forbidden")
    engine, _reason = matching_engine(request, db)
    if engine is None:
        raise InvalidInput("matching is not ready", code="week_not_buildable")
    week = match_lists.current_week()
    match_lists.build(db, engine, week)
    db.commit()
    return RedirectResponse(f"/ui/weeklijst?week={week}", status_code=303)


@router.get("/weeklijst/{week}.{extension}")
def download_week(
    week: str, extension: str, db: SessionDep, visitor: StaffVisitorDep, query: WeeklyQueryDep
) -> Response:
    """The list as shown (the same grouping and filters), for Dutch Excel."""
    require_list_reader(visitor)
    if extension not in EXPORT_TYPES:
        raise InvalidInput("choose csv or xlsx", code="export_type_unknown")
    stored = match_lists.get(db, week)
    lines = weekly_view.selected_lines(match_lists.lines_of(stored), query.filters())
    body = match_lists.as_csv(stored, lines) if extension == "csv" else match_lists.as_xlsx(stored, lines)
    return Response(
        content=body,
        media_type=EXPORT_TYPES[extension],
        headers={"Content-Disposition": f'attachment; filename="koppelkans-weeklijst-{stored.week}.{extension}"'},
    )
