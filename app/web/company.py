"""The company page, and what a company does there with its edit link: change every field of its
profile, switch its consent to Defence contact on and off, download its data, erase its profile.
Staff see the same page with the pipeline status of each match, and can follow the company."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.core.errors import Conflict, Forbidden, InvalidInput
from app.deps import SessionDep
from app.domain import MatchEventKind, NoteVisibility
from app.labels import DEFENCE_EXPERIENCE, PIPELINE, STATUS, dutch
from app.models import Company, id_of
from app.schemas import CompanyUpdate
from app.services import companies as company_service
from app.services import follows, match_views
from app.services import needs as need_service
from app.services import pipeline as pipeline_service
from app.web import messages
from app.web.pages import MATCH_LIMIT, matching_engine
from app.web.register import field_errors, form_context, form_data, payload_from, typed_values
from app.web.routing import HtmlRoute, flash, render, take_flash
from app.web.session import CsrfDep, LoginRequired, StaffVisitorDep, Visitor, VisitorDep, WebSessionDep
from app.web.templating import min_fit_of, weaker_url

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)


def _company_for(db: SessionDep, visitor: Visitor, company_id: int, *, change: bool = False) -> Company:
    """The company, if this visitor may see it (``change``: may change it); anonymous visitors log in
    first, before the lookup, so they cannot probe which ids exist."""
    caller = visitor.caller
    if caller.user is None and caller.company_id is None:
        raise LoginRequired()
    company = company_service.get(session=db, company_id=company_id)
    if change:
        company_service.require_change_access(caller, company)
    else:
        company_service.require_access(caller, company)
    return company


@router.get("/bedrijf/{company_id}")
def company_page(
    request: Request,
    company_id: int,
    db: SessionDep,
    visitor: VisitorDep,
    web_session: WebSessionDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
    passend: Annotated[str, Query(max_length=20)] = "redelijk",
) -> Response:
    min_fit = min_fit_of(passend)
    if token is not None:
        return _open_edit_link(db, visitor, web_session, company_id, token)
    company = _company_for(db, visitor, company_id)
    caller = visitor.caller
    engine, reason = matching_engine(request, db)
    matches = []
    if engine is not None:
        matches = match_views.needs_for_company(session=db, engine=engine, caller=caller, company=company,
                                                limit=MATCH_LIMIT, min_fit=min_fit)
    is_own = caller.owns(company.id)
    notice = take_flash(request)
    notes = pipeline_service.shared_notes(db, id_of(company))
    noted_needs = need_service.get_many(session=db, need_ids=list(notes))
    return render(request, "company.html", {
        "company": company_service.to_out(session=db, caller=caller, company=company),
        "matches": matches,
        # The needs this company agreed to be introduced for, shown to the company itself.
        "consented_need_ids": pipeline_service.introduction_consented_need_ids(db, id_of(company)) if is_own else set(),
        "matching_note": reason,
        "weaker_url": weaker_url(request, passend),
        "is_own": is_own,
        "may_change": caller.is_desk or is_own,
        "following": caller.user is not None and follows.is_following(db, caller.user, company_id=company.id),
        # Notes staff shared with the company, per need (internal notes never reach this page).
        "shared_notes": [(noted_needs[need_id], events) for need_id, events in notes.items() if need_id in noted_needs],
        "notice": notice,
    })


def _open_edit_link(db: SessionDep, visitor: Visitor, web_session: Any, company_id: int, token: str) -> Response:
    """The company's own edit link starts a company session and drops the token from the address bar.
    A logged-in staff member who opens it (say, to check a link before handing it over) stays
    logged in as themselves."""
    company = company_service.get(session=db, company_id=company_id)
    if not company_service.check_edit_token(company, token):
        raise Forbidden("the edit link does not belong to this company", code="edit_link_invalid")
    if visitor.user is None:
        web_session.start(company_id=company.id)
    return RedirectResponse(f"/ui/bedrijf/{company.id}", status_code=303)


# --- changing the profile ------------------------------------------------------------------------


def _values_of(company: Company) -> dict[str, Any]:
    """The profile as the form shows it."""
    values: dict[str, Any] = {name: "" if getattr(company, name) is None else str(getattr(company, name))
                              for name in ("name", "kvk_number", "municipality", "description", "website",
                                           "employees", "defence_experience", "contact_name", "contact_email",
                                           "contact_phone")}
    values.update(capabilities=", ".join(company.capabilities), sectors=list(company.sectors),
                  nld_areas=list(company.nld_areas), consent=True,
                  consent_defence_contact=company.consent_defence_contact,
                  weekly_match_mail=company.weekly_match_mail)
    return values


@router.get("/bedrijf/{company_id}/wijzigen")
def edit_form(request: Request, company_id: int, db: SessionDep, visitor: VisitorDep) -> Response:
    company = _company_for(db, visitor, company_id, change=True)
    return render(request, "company_edit.html", {**form_context(_values_of(company), {}), "company": company,
                                                 "kvk_locked": not visitor.caller.is_desk})


@router.post("/bedrijf/{company_id}/wijzigen", dependencies=[CsrfDep])
def edit(
    request: Request, company_id: int, db: SessionDep, visitor: VisitorDep, form: FormData = Depends(form_data),
) -> Response:
    company = _company_for(db, visitor, company_id, change=True)
    values = {**typed_values(form), "consent": True}
    kvk_locked = not visitor.caller.is_desk  # only the desk corrects a KvK number
    if kvk_locked:
        values["kvk_number"] = company.kvk_number or ""
    payload = payload_from(values)
    payload.pop("consent")
    if kvk_locked:
        payload.pop("kvk_number")
    errors: dict[str, str] = {}
    try:
        changes = CompanyUpdate.model_validate(payload)
        company_service.update(session=db, caller=visitor.caller, company=company, changes=changes)
        db.commit()
    except ValidationError as error:
        errors = field_errors(error)
    except (Conflict, InvalidInput) as refused:
        db.rollback()
        errors = {"kvk_number" if refused.code == "kvk_taken" else "__all__": messages.for_error(refused)}
    if errors:
        context = {**form_context(values, errors), "company": company, "kvk_locked": kvk_locked}
        return render(request, "company_edit.html", context, status_code=422)
    flash(request, "Het profiel is opgeslagen.")
    return RedirectResponse(f"/ui/bedrijf/{company_id}", status_code=303)


@router.post("/bedrijf/{company_id}/toestemming", dependencies=[CsrfDep])
def defence_contact_consent(
    request: Request, company_id: int, db: SessionDep, visitor: VisitorDep,
    defensie_contact: Annotated[str, Form(max_length=3)] = "nee",
) -> Response:
    """Switches the company's consent to be contacted by Defence parties on or off."""
    company = _company_for(db, visitor, company_id, change=True)
    consent = defensie_contact == "ja"
    company_service.update(session=db, caller=visitor.caller, company=company,
                           changes=CompanyUpdate(consent_defence_contact=consent))
    db.commit()
    flash(request, "Defensie-partijen mogen de contactgegevens nu zien." if consent else
          "De toestemming is ingetrokken: Defensie-partijen zien de contactgegevens niet meer.")
    return RedirectResponse(f"/ui/bedrijf/{company_id}#toestemming", status_code=303)


# --- its data: download and erasure ---------------------------------------------------------------


def in_dutch(data: dict[str, Any], *, for_company: bool) -> dict[str, Any]:
    """The export with its statuses and experience in Dutch words instead of codes. The company's own
    download holds the notes staff shared with it, not their internal ones, and no staff ids."""
    profile = data["profile"]
    profile["defence_experience"] = dutch(DEFENCE_EXPERIENCE, profile["defence_experience"])
    profile["status"] = dutch(STATUS, profile["status"])
    for match in data["matches"]:
        match["status"] = dutch(PIPELINE, match["status"])
        if for_company:
            match["events"] = [_for_company(event) for event in match.get("events", [])
                               if not (event.get("kind") == MatchEventKind.note
                                       and event.get("visibility") != NoteVisibility.shared)]
        for event in match.get("events", []):
            for key in ("from_status", "to_status"):
                if event.get(key):
                    event[key] = dutch(PIPELINE, event[key])
    if for_company:
        data["audit_log"] = [{**entry, "actor": _actor_for_company(entry)} for entry in data.get("audit_log", [])]
    return data


def _actor_for_company(entry: dict[str, Any]) -> str:
    actor = str(entry.get("actor", ""))
    return "het bedrijf" if actor.startswith("company:") else ("een medewerker" if actor.startswith("user:") else actor)


def _for_company(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the company reads it: who did it without staff ids, and no owner's user id."""
    note = "" if event.get("kind") == MatchEventKind.owner else event.get("note", "")
    return {**event, "actor": _actor_for_company(event), "note": note}


@router.get("/bedrijf/{company_id}/export")
def export(company_id: int, db: SessionDep, visitor: VisitorDep) -> Response:
    company = _company_for(db, visitor, company_id, change=True)
    exported = jsonable_encoder(company_service.export(session=db, caller=visitor.caller, company=company))
    data = in_dutch(exported, for_company=visitor.caller.owns(company_id))
    db.commit()
    return Response(
        content=json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="koppelkans-bedrijf-{company_id}.json"'},
    )


@router.get("/bedrijf/{company_id}/verwijderen")
def erase_form(request: Request, company_id: int, db: SessionDep, visitor: VisitorDep) -> Response:
    company = _company_for(db, visitor, company_id, change=True)
    return render(request, "company_erase.html", {"company": company})


@router.post("/bedrijf/{company_id}/verwijderen", dependencies=[CsrfDep])
def erase(
    request: Request, company_id: int, db: SessionDep, visitor: VisitorDep, web_session: WebSessionDep,
) -> Response:
    company = _company_for(db, visitor, company_id, change=True)
    name = company.name
    company_service.erase(session=db, caller=visitor.caller, company=company)
    db.commit()
    if visitor.caller.owns(company_id):
        web_session.clear()  # the company's session ends with its profile
    return render(request, "company_erased.html", {"name": name, "by_staff": visitor.user is not None})


# --- following ----------------------------------------------------------------------------------


@router.post("/bedrijf/{company_id}/volgen", dependencies=[CsrfDep])
def follow(
    company_id: int, db: SessionDep, visitor: StaffVisitorDep, volgen: Annotated[str, Form(max_length=3)] = "ja",
) -> Response:
    company_service.get(session=db, company_id=company_id)
    assert visitor.user is not None  # staff
    follows.set_following(db, visitor.user, volgen == "ja", company_id=company_id)
    db.commit()
    return RedirectResponse(f"/ui/bedrijf/{company_id}", status_code=303)
