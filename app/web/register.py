"""The public registration form: the API's validation (``CompanyCreate``) and service, its rate limit,
each error beside its field. Anonymously the answer is the same for a new and a known KvK number
(the edit link comes by e-mail: app/services/registration.py); an adviser sees the edit link once."""

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.core import text
from app.core.errors import Conflict, Forbidden, NotFound
from app.deps import SessionDep, SettingsDep, registration_limit
from app.domain import DefenceExperience
from app.schemas import CompanyCreate
from app.services import companies as company_service
from app.services import edit_links, registration
from app.services.access import Caller
from app.taxonomy import get_taxonomy
from app.web import messages
from app.web.routing import HtmlRoute, flash, render
from app.web.session import CsrfDep, VisitorDep, WebSessionDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

HANDOVER = "handover"  # the session's key for the edit link an adviser may still e-mail to the company

TEXT_FIELDS = (
    "name",
    "kvk_number",
    "municipality",
    "description",
    "website",
    "employees",
    "capabilities",
    "defence_experience",
    "contact_name",
    "contact_email",
    "contact_phone",
)
LIST_FIELDS = ("sectors", "nld_areas")
CHECKBOX_FIELDS = ("consent", "consent_defence_contact", "weekly_match_mail")
OPTIONAL_FIELDS = ("website", "employees", "contact_name", "contact_phone")
# The order in which fields appear on the form, so the error summary lists them in that order too.
FIELD_ORDER = (
    "name",
    "kvk_number",
    "municipality",
    "description",
    "website",
    "employees",
    "sectors",
    "nld_areas",
    "capabilities",
    "defence_experience",
    "contact_name",
    "contact_email",
    "contact_phone",
    "consent_defence_contact",
    "weekly_match_mail",
    "consent",
)


async def form_data(request: Request) -> FormData:
    return await request.form()


def typed_values(form: FormData) -> dict[str, Any]:
    """What the person typed, as the form shows it again."""
    values: dict[str, Any] = {name: str(form.get(name) or "") for name in TEXT_FIELDS}
    values.update({name: [str(v) for v in form.getlist(name)] for name in LIST_FIELDS})
    values.update({name: form.get(name) == "ja" for name in CHECKBOX_FIELDS})
    if not values["defence_experience"]:
        values["defence_experience"] = DefenceExperience.none
    return values


def payload_from(values: dict[str, Any]) -> dict[str, Any]:
    """The same JSON body the API would receive from this form."""
    payload = {name: values[name].strip() for name in TEXT_FIELDS if name != "capabilities"}
    for name in OPTIONAL_FIELDS:
        if not payload[name]:
            payload[name] = None
    if payload["employees"] is not None and payload["employees"].isdigit():
        payload["employees"] = int(payload["employees"])
    payload["capabilities"] = [
        part.strip() for part in re.split(r"[,\n;]", values["capabilities"]) if part.strip()
    ]
    payload.update({name: values[name] for name in LIST_FIELDS})
    payload.update({name: values[name] for name in CHECKBOX_FIELDS})
    return payload


# The form speaks Dutch: what to fix per field, in place of the API's English wording.
# The checks themselves are the API's (CompanyCreate); a field without an entry shows the API's message.
DUTCH_MESSAGES = {
    "name": "Vul de bedrijfsnaam in (2 tot 200 tekens).",
    "kvk_number": "Het KvK-nummer bestaat uit precies 8 cijfers, bijvoorbeeld 12345678.",
    "municipality": "Onbekende gemeente: vul een Nederlandse gemeente in, bijvoorbeeld Emmen.",
    "description": "Beschrijf wat uw bedrijf doet in 10 tot 10.000 tekens.",
    "contact_email": "Vul een geldig e-mailadres in, bijvoorbeeld info@uwbedrijf.nl.",
    "consent": "Zonder uw toestemming kunnen wij uw profiel niet opslaan en koppelen.",
    "website": "Een website begint met http:// of https://.",
    "employees": "Vul het aantal medewerkers in als heel getal (0 of meer).",
    "contact_phone": "Vul een telefoonnummer in van 6 tot 20 cijfers, bijvoorbeeld +31 592 123456.",
    "contact_name": "De naam van de contactpersoon mag hoogstens 200 tekens lang zijn.",
    "capabilities": "Noem hoogstens 30 kunde of producten, elk hoogstens 100 tekens.",
    "sectors": "Kies sectoren uit de lijst.",
    "nld_areas": "Kies NLD-sleutelgebieden uit de lijst.",
}


FIELD_LABELS = {
    "name": "bedrijfsnaam", "kvk_number": "KvK-nummer", "municipality": "gemeente", "description": "beschrijving",
    "website": "website", "capabilities": "kunde en producten", "contact_name": "contactpersoon",
    "contact_email": "e-mailadres", "contact_phone": "telefoonnummer",
}


def field_errors(error: ValidationError) -> dict[str, str]:
    """One message per field, in Dutch, saying what to fix."""
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = item.get("loc") or ("__all__",)
        field = str(loc[0])
        control_character = text.found_in(item)
        if control_character is not None:
            message = text.in_dutch(control_character, FIELD_LABELS.get(field))
        else:
            message = DUTCH_MESSAGES.get(field) or str(item.get("msg", "")).removeprefix("Value error, ")
        errors.setdefault(field, message)
    return dict(
        sorted(errors.items(), key=lambda kv: FIELD_ORDER.index(kv[0]) if kv[0] in FIELD_ORDER else 99)
    )


def form_context(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    vocab = get_taxonomy()
    return {
        "values": values,
        "errors": errors,
        "municipalities": sorted(m.name for m in vocab.municipalities.values()),
        "sectors": vocab.sectors,
        "nld_areas": vocab.nld_areas,
    }


def _registering_caller(caller: Caller) -> Caller:
    # An adviser who is logged in registers on the company's behalf, as with the API; a company's own
    # session does not carry over to registering another one.
    return Caller(user=caller.user)


@router.get("/aanmelden")
def registration_form(request: Request, visitor: VisitorDep) -> HTMLResponse:
    return render(request, "register.html", form_context(typed_values(FormData()), {}))


@router.post("/aanmelden", dependencies=[CsrfDep])
def register(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    visitor: VisitorDep,
    web_session: WebSessionDep,
    form: FormData = Depends(form_data),
) -> Response:
    caller = _registering_caller(visitor.caller)
    registration_limit(request, caller, settings)  # the API's limiter and counters
    values = typed_values(form)
    try:
        company_in = CompanyCreate.model_validate(payload_from(values))
    except ValidationError as error:
        return render(request, "register.html", form_context(values, field_errors(error)), status_code=422)
    if caller.user is None:
        # Anonymously the same answer for a new and a known KvK number: the next step comes by e-mail.
        registration.register_self(session=db, company_in=company_in)
        db.commit()  # the index takes it in from the change log (services/indexing.py)
        web_session.data["registered"] = {"received": True}
        web_session.changed = True
        return RedirectResponse("/ui/aangemeld", status_code=303)
    try:
        company, edit_token = company_service.register(session=db, caller=caller, company_in=company_in)
    except Conflict as error:
        return render(
            request, "register.html", form_context(values, {"kvk_number": messages.for_error(error)}), status_code=409
        )
    db.commit()
    # Post/redirect/get: the edit link waits in the session for exactly one showing, so reloading the
    # confirmation neither registers twice nor shows the link again.
    registered = {"id": company.id, "name": company.name, "token": edit_token, "on_behalf": caller.is_desk}
    web_session.data["registered"] = registered
    if caller.is_desk:
        # The adviser stays logged in as themselves and may e-mail the link to the company once.
        web_session.data[HANDOVER] = registered
    web_session.changed = True
    return RedirectResponse("/ui/aangemeld", status_code=303)


def edit_link_for(request: Request, company_id: int, token: str) -> str:
    return str(request.url_for("company_page", company_id=company_id).include_query_params(token=token))


@router.get("/aangemeld")
def registered(request: Request, web_session: WebSessionDep, visitor: VisitorDep) -> HTMLResponse:
    shown = web_session.data.pop("registered", None)
    if shown is None:
        return render(request, "registered.html", {"shown": None})
    web_session.changed = True
    if shown.get("received"):
        return render(request, "registered.html", {"shown": None, "received": registration.RECEIVED})
    edit_link = edit_link_for(request, shown["id"], shown["token"])
    return render(request, "registered.html", {"shown": shown, "edit_link": edit_link})


@router.post("/aangemeld/mailen", dependencies=[CsrfDep])
def mail_edit_link(request: Request, db: SessionDep, visitor: VisitorDep, web_session: WebSessionDep) -> Response:
    """The adviser e-mails the edit link of the company they just registered to its contact address."""
    if not visitor.caller.is_desk:
        raise Forbidden("only advisers and admins hand over an edit link", code="desk_only")
    handover = web_session.data.pop(HANDOVER, None)
    web_session.changed = True
    if handover is None:
        raise NotFound("no edit link to send", code="handover_gone")
    company = company_service.get(session=db, company_id=handover["id"])
    edit_links.send_handover(db, visitor.caller, company, handover["token"])
    db.commit()
    flash(request, f"De bewerkingslink is gemaild naar {company.contact_email}.")
    return RedirectResponse(f"/ui/bedrijf/{company.id}", status_code=303)
