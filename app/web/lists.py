"""Lists with filters, sorting and pages: companies (staff) and needs, programmes and calls (everyone;
staff-only needs for staff)."""

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.core.errors import InvalidInput
from app.deps import SessionDep
from app.domain import CompanyStatus, DefenceExperience, NeedKind
from app.services import companies as company_service
from app.services import needs as need_service
from app.taxonomy import get_taxonomy
from app.web.routing import HtmlRoute, render
from app.web.session import StaffVisitorDep, VisitorDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

PER_PAGE = 25
COMPANY_SORTS = {"naam": ("name", "Naam (A-Z)"), "nieuwste": ("newest", "Nieuwste eerst"),
                 "gemeente": ("municipality", "Gemeente")}
NEED_SORTS = {"soort": ("kind", "Soort en titel"), "deadline": ("deadline", "Deadline (eerst)"),
              "titel": ("title", "Titel (A-Z)"), "nieuwste": ("newest", "Nieuwste eerst")}
DEADLINES = {"open": (True, "Nog open"), "verlopen": (False, "Verlopen")}

Text = Annotated[str, Query(max_length=200)]
Choice = Annotated[str, Query(max_length=100)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _check(value: str, allowed: Any, code: str) -> str | None:
    if value and value not in allowed:
        raise InvalidInput(f"unknown filter value '{value}'", code=code)
    return value or None


def _pages(count: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-count // PER_PAGE))
    return min(page, pages), pages


@router.get("/bedrijven")
def company_list(
    request: Request, db: SessionDep, visitor: StaffVisitorDep, q: Text = "", nld: Choice = "", regio: Choice = "",
    sector: Choice = "", ervaring: Choice = "", status: Choice = "", sorteer: Choice = "naam", pagina: PageNumber = 1,
) -> Response:
    taxonomy = get_taxonomy()
    filters: dict[str, Any] = {
        "q": q.strip() or None,
        "nld_area": _check(nld, taxonomy.nld_area_slugs, "nld_unknown"),
        "region": _check(regio, taxonomy.regions, "region_unknown"),
        "sector": _check(sector, taxonomy.sector_slugs, "weekly_filter_unknown"),
        "defence_experience": _check(ervaring, DefenceExperience.__members__, "weekly_filter_unknown"),
        "status": _check(status, CompanyStatus.__members__, "weekly_filter_unknown"),
    }
    _check(sorteer, COMPANY_SORTS, "weekly_filter_unknown")
    count = company_service.list_companies(session=db, limit=1, **filters)[1]
    page, pages = _pages(count, pagina)
    companies, _ = company_service.list_companies(session=db, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                                                  order=COMPANY_SORTS[sorteer][0], **filters)
    chosen = {"q": q.strip(), "nld": nld, "regio": regio, "sector": sector, "ervaring": ervaring, "status": status,
              "sorteer": sorteer}
    return render(request, "companies.html", {
        "companies": companies, "count": count, "page": page, "pages": pages, "chosen": chosen,
        "sorts": COMPANY_SORTS, "link": _link_maker("/ui/bedrijven", chosen),
    })


@router.get("/behoeften")
def need_list(
    request: Request, db: SessionDep, visitor: VisitorDep, q: Text = "", soort: Choice = "", nld: Choice = "",
    regio: Choice = "", sector: Choice = "", deadline: Choice = "", sorteer: Choice = "soort",
    pagina: PageNumber = 1,
) -> Response:
    taxonomy = get_taxonomy()
    filters: dict[str, Any] = {
        "q": q.strip() or None,
        "kind": _check(soort, NeedKind.__members__, "weekly_filter_unknown"),
        "nld_area": _check(nld, taxonomy.nld_area_slugs, "nld_unknown"),
        "sector": _check(sector, taxonomy.sector_slugs, "weekly_filter_unknown"),
        "regions": [regio] if _check(regio, taxonomy.regions, "region_unknown") else None,
        "deadline_open": DEADLINES[deadline][0] if _check(deadline, DEADLINES, "weekly_filter_unknown") else None,
    }
    _check(sorteer, NEED_SORTS, "weekly_filter_unknown")
    caller = visitor.caller
    count = need_service.list_needs(session=db, caller=caller, limit=1, **filters)[1]
    page, pages = _pages(count, pagina)
    needs, _ = need_service.list_needs(session=db, caller=caller, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                                       order=NEED_SORTS[sorteer][0], **filters)
    chosen = {"q": q.strip(), "soort": soort, "nld": nld, "regio": regio, "sector": sector, "deadline": deadline,
              "sorteer": sorteer}
    return render(request, "needs.html", {
        "needs": need_service.to_out_many(session=db, needs=needs), "count": count, "page": page, "pages": pages,
        "chosen": chosen, "sorts": NEED_SORTS, "deadlines": DEADLINES, "link": _link_maker("/ui/behoeften", chosen),
    })


def _link_maker(path: str, chosen: dict[str, str]) -> Callable[..., str]:
    """The address of this list with some of its choices changed (the template's page links)."""

    def link(**changes: Any) -> str:
        values = {**chosen, **changes}
        return path + "?" + urlencode({key: value for key, value in values.items() if value not in ("", None, 1)})

    return link
