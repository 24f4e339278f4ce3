"""The dashboard: the pipeline as a funnel, introductions per month as a trend, and matches by NLD
area and sub-region, each bar a link to the pipeline filtered on it. Inline SVG and CSS only."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import SessionDep
from app.labels import dutch
from app.services import dashboard
from app.web.routing import HtmlRoute, render
from app.web.session import StaffVisitorDep
from app.web.templating import PIPELINE_LABELS, nld_label

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def board_link(**filters: str) -> str:
    return "/ui/pipeline?" + urlencode(filters)


def bars(rows: list[tuple[str, int, str | None]]) -> list[dict[str, Any]]:
    """Each (label, count, link) with its bar's length in percent of the largest."""
    largest = max((count for _, count, _ in rows), default=0) or 1
    return [{"label": label, "count": count, "href": href, "percent": round(100 * count / largest, 1)}
            for label, count, href in rows]


def month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def trend(per_month: dict[str, int]) -> dict[str, Any]:
    """Geometry of a column chart of the months (viewBox units; the CSS scales it to the page)."""
    largest = max(per_month.values(), default=0) or 1
    width, height, gap = 24, 100, 6
    columns = []
    for index, (month, count) in enumerate(per_month.items()):
        bar_height = round(height * count / largest, 1)
        columns.append({"x": index * (width + gap), "y": height - bar_height, "height": bar_height, "count": count,
                        "label": month_label(month), "short": MONTHS[int(month[5:]) - 1],
                        "href": board_link(maand=month)})
    return {"columns": columns, "width": max(1, len(columns) * (width + gap) - gap), "height": height,
            "column_width": width}


@router.get("/dashboard")
def dashboard_page(request: Request, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    figures = dashboard.figures(db)
    funnel = bars([(dutch(PIPELINE_LABELS, stage), count, board_link(status=stage))
                   for stage, count in figures.funnel.items()])
    now_in = {str(status): count for status, count in figures.matches_by_status.items()}
    for row, stage in zip(funnel, figures.funnel, strict=True):
        row["now"] = now_in.get(stage, 0)
    return render(request, "dashboard.html", {
        "figures": figures,
        "funnel": funnel,
        "by_area": bars([(nld_label(slug), count, board_link(nld=slug))
                         for slug, count in figures.matches_by_nld_area.items()]),
        "by_region": bars([(region, count, board_link(regio=region) if region in dashboard.SUB_REGIONS else None)
                           for region, count in figures.matches_by_sub_region.items()]),
        "trend": trend(figures.introductions_per_month),
        "introductions": sum(figures.introductions_per_month.values()),
    })
