"""The desk's side of the loket in the browser: the inbox of cases, a case page to work its
trajectory, the consortium suggestions on a need's page, and the KPI report with its downloads."""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from app.core import text
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.deps import SessionDep
from app.domain import CaseStatus, NeedKind, TrajectoryOutcome
from app.models import LoketCase, utcnow
from app.schemas_loket import ApplicationIn, CaseChange, CaseProfileIn, ReferralIn
from app.services import cases as case_service
from app.services import consortia as consortium_service
from app.services import kpis
from app.services import needs as need_service
from app.services import users as user_service
from app.web.loket import FIT_LABELS, form_data
from app.web.pages import matching_engine
from app.web.routing import HtmlRoute, render
from app.web.session import CsrfDep, LoginRequired, StaffVisitorDep, Visitor, VisitorDep
from app.web.templating import min_fit_of

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

CASE_STATUS_LABELS = {"new": "nieuw", "in_progress": "in behandeling", "answered": "beantwoord", "closed": "afgesloten"}
OUTCOME_LABELS = {"referred": "doorverwezen", "introduced": "in contact gebracht", "programme": "regeling toegekend",
                  "no_follow_up": "geen vervolg"}
APPLICATION_LABELS = {"applied": "aangevraagd", "granted": "toegekend", "rejected": "afgewezen",
                      "withdrawn": "ingetrokken"}
PHASE_LABELS = {"idea": "idee", "start-up": "start-up", "growth": "groei", "established": "gevestigd"}
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FLASH_KEY = "case_flash"
LABELS = {"case_status_labels": CASE_STATUS_LABELS, "outcome_labels": OUTCOME_LABELS,
          "application_labels": APPLICATION_LABELS, "phase_labels": PHASE_LABELS}


def require_desk_visitor(visitor: VisitorDep) -> Visitor:
    if visitor.caller.user is None:
        raise LoginRequired()
    if not visitor.caller.is_desk:
        raise Forbidden("the loket's inbox is for advisers and admins", code="case_inbox_forbidden")
    return visitor


DeskVisitorDep = Annotated[Visitor, Depends(require_desk_visitor)]


# --- the inbox and a case --------------------------------------------------------------------------


@router.get("/casussen")
def inbox(request: Request, db: SessionDep, visitor: DeskVisitorDep,
          status: Annotated[CaseStatus | None, Query()] = None) -> Response:
    cases, count = case_service.list_cases(session=db, status=status, limit=200)
    rows = case_service.to_out_many(session=db, caller=visitor.caller, cases=cases)
    return render(request, "cases.html", {"cases": rows, "count": count, "status": status or "", **LABELS})


@router.get("/casus/{case_id}")
def case_page(request: Request, case_id: int, db: SessionDep, visitor: DeskVisitorDep) -> Response:
    case = case_service.get(session=db, case_id=case_id)
    programmes, _ = need_service.list_needs(session=db, caller=visitor.caller, kind=NeedKind.programme, limit=200)
    flash = visitor.session.data.pop(FLASH_KEY, None)
    if flash:
        visitor.session.changed = True
    return render(request, "case.html", {
        "case": case_service.to_detail(session=db, caller=visitor.caller, case=case),
        "advisers": case_service.advisers(session=db),
        "organisations": user_service.organisations(session=db),
        "programmes": programmes, "flash": flash, "fit_labels": FIT_LABELS,
        "outcomes": list(TrajectoryOutcome), **LABELS,
    })


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _optional_int(form: FormData, name: str) -> int | None:
    value = _text(form, name)
    return int(value) if value.isdigit() else None


Step = Callable[[Session, Visitor, LoketCase, FormData], str]


def _assign(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    change = CaseChange(assigned_user_id=_optional_int(form, "adviseur"))
    case_service.change(session=db, caller=visitor.caller, case=case, changes=change)
    return "De adviseur is opgeslagen."


def _articulate(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    change = CaseChange(articulated_question=_text(form, "vraagarticulatie"))
    case_service.change(session=db, caller=visitor.caller, case=case, changes=change)
    return "De vraagarticulatie is opgeslagen."


def _answer(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    change = CaseChange(answer=_text(form, "antwoord"))
    case_service.change(session=db, caller=visitor.caller, case=case, changes=change)
    return "Het antwoord is opgeslagen; de casus staat op beantwoord."


def _close(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    change = CaseChange.model_validate({"status": _text(form, "status") or None,
                                        "outcome": _text(form, "uitkomst") or None,
                                        "outcome_note": _text(form, "toelichting")})
    case_service.change(session=db, caller=visitor.caller, case=case, changes=change)
    return "Status en uitkomst zijn opgeslagen."


def _link(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    company_id = _optional_int(form, "bedrijf_id")
    if company_id is None:
        raise InvalidInput("choose the company to link (bedrijf_id)", code="case_company_missing")
    case_service.link_company(session=db, caller=visitor.caller, case=case, company_id=company_id)
    return "De casus is aan het bedrijf gekoppeld."


def _profile(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    profile = CaseProfileIn(name=_text(form, "naam"), kvk_number=_text(form, "kvk") or None,
                            consent=form.get("toestemming") == "ja")
    company, _token = case_service.create_profile(session=db, caller=visitor.caller, case=case, profile_in=profile)
    return (f"Het profiel van {company.name} is aangemaakt en gekoppeld. Het bedrijf krijgt zijn bewerkingslink "
            f"via de adviseur (API: /api/v1/companies/{company.id}).")


def _refer(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    referral = ReferralIn(organisation=_text(form, "organisatie"), note=_text(form, "notitie"))
    case_service.add_referral(session=db, caller=visitor.caller, case=case, referral_in=referral)
    return "De doorverwijzing is opgeslagen."


def _apply(db: Session, visitor: Visitor, case: LoketCase, form: FormData) -> str:
    application = ApplicationIn.model_validate({"need_id": _optional_int(form, "regeling") or 0,
                                                "status": _text(form, "stand") or "applied",
                                                "note": _text(form, "notitie")})
    case_service.set_application(session=db, caller=visitor.caller, case=case, application_in=application)
    return "De regeling is opgeslagen."


# Each step, and what to fix in Dutch when the service or the validation refuses it.
STEPS: dict[str, tuple[Step, str]] = {
    "toewijzen": (_assign, "Kies een actieve adviseur of beheerder."),
    "vraagarticulatie": (_articulate, "De vraagarticulatie mag hoogstens 5.000 tekens lang zijn."),
    "antwoord": (_answer, "Schrijf een antwoord van 2 tot 10.000 tekens."),
    "afronden": (_close, "Een casus gaat niet terug naar nieuw, en wordt pas beantwoord met een antwoord."),
    "koppelen": (_link, "Vul het nummer in van een bestaand bedrijf."),
    "profiel": (_profile, "Vul de bedrijfsnaam en het KvK-nummer (8 cijfers) in en vink de toestemming van het "
                          "bedrijf aan. Bestaat het bedrijf al, koppel de casus dan aan dat bedrijf."),
    "doorverwijzing": (_refer, "Kies een organisatie uit de lijst."),
    "regeling": (_apply, "Kies een regeling uit de lijst."),
}


# The Dutch names of the fields a step's form fills, for a message about a control character.
FIELD_LABELS = {"articulated_question": "vraagarticulatie", "answer": "antwoord", "outcome_note": "toelichting",
                "note": "notitie", "name": "naam", "kvk_number": "KvK-nummer"}


def _what_to_fix(error: Exception, refusal: str) -> str:
    if isinstance(error, Conflict):
        return "Er is al een bedrijf met dit KvK-nummer: koppel de casus aan dat bedrijf."
    control_character = text.first_in(error.errors()) if isinstance(error, ValidationError) else None
    if control_character is not None:
        return text.in_dutch(control_character, FIELD_LABELS.get(control_character.field))
    return refusal


@router.post("/casus/{case_id}/{step}", dependencies=[CsrfDep])
def case_step(case_id: int, step: str, db: SessionDep, visitor: DeskVisitorDep,
              form: FormData = Depends(form_data)) -> RedirectResponse:
    if step not in STEPS:
        raise NotFound(f"unknown step {step!r}", code="case_step_unknown")
    action, refusal = STEPS[step]
    case = case_service.get(session=db, case_id=case_id)
    try:
        message: dict[str, Any] = {"ok": True, "text": action(db, visitor, case, form)}
        db.commit()
    except (ValidationError, InvalidInput, Conflict, NotFound) as error:
        db.rollback()
        message = {"ok": False, "text": _what_to_fix(error, refusal)}
    visitor.session.data[FLASH_KEY] = message
    visitor.session.changed = True
    return RedirectResponse(f"/ui/casus/{case_id}", status_code=303)


# --- consortium suggestions on a need's page --------------------------------------------------------


@router.get("/behoefte/{need_id}/consortia")
def consortia_partial(request: Request, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
                      grootte: Annotated[int, Query(ge=2, le=4)] = 3, gesloten: bool = False,
                      passend: Annotated[str, Query(max_length=20)] = "redelijk") -> Response:
    """Groups made of the companies that fit the need at least as well as ``passend`` asks (as on
    the need's page)."""
    engine, reason = matching_engine(request, db)
    context: dict[str, Any] = {"need_id": need_id, "size": grootte, "passend": passend, "consortia": None,
                               "note": reason, "closed_refused": False}
    if engine is not None:
        try:
            context["consortia"] = consortium_service.suggest(session=db, engine=engine, caller=visitor.caller,
                                                              need_id=need_id, size=grootte, include_closed=gesloten,
                                                              min_fit=min_fit_of(passend))
        except Conflict:
            context["closed_refused"] = True
        except InvalidInput:
            context["note"] = "Deze behoefte heeft te weinig delen voor een consortium: dat kan bij calls en " \
                              "behoeften van ten minste twee delen."
    return render(request, "partials/consortia.html", context)


# --- the KPI report ----------------------------------------------------------------------------------


@router.get("/kpi")
def kpi_page(request: Request, db: SessionDep, visitor: StaffVisitorDep,
             jaar: Annotated[int | None, Query(ge=kpis.FIRST_YEAR, le=kpis.LAST_YEAR)] = None) -> Response:
    year = jaar or date.today().year
    report = kpis.report(db, year)
    return render(request, "kpi.html", {"report": report, "columns": kpis.columns(), "rows": kpis.rows(report),
                                        "year": year})


@router.get("/kpi/{year}.{extension}")
def kpi_download(year: int, extension: str, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    if extension not in EXPORT_TYPES:
        raise NotFound("download as .csv or .xlsx", code="export_type_unknown")
    if not kpis.FIRST_YEAR <= year <= kpis.LAST_YEAR:
        raise NotFound(f"no KPIs for {year}", code="kpi_year_missing")
    report = kpis.report(db, year)
    body = kpis.as_csv(report) if extension == "csv" else kpis.as_xlsx(report, created=utcnow())
    return Response(content=body, media_type=EXPORT_TYPES[extension],
                    headers={"Content-Disposition": f'attachment; filename="koppelkans-kpi-{year}.{extension}"'})

