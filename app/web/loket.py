"""The loket in the browser: the question form (partials/question_form.html, also on the front page)
and the route it gets, with the API's validation, service and rate limit."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.core import text
from app.deps import SessionDep, SettingsDep, get_matching_state
from app.routers.questions import question_limit
from app.schemas_loket import QuestionIn
from app.services import cases as case_service
from app.services import questions as question_service
from app.services.access import Caller
from app.web.routing import HtmlRoute, render
from app.web.session import CsrfDep, VisitorDep, WebSessionDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

FIELDS = ("text", "municipality", "kvk_number", "phase", "contact_email")
# What to fix per field, in Dutch; the checks are the API's (QuestionIn).
DUTCH_MESSAGES = {
    "text": "Beschrijf uw vraag, suggestie of idee in 10 tot 5.000 tekens.",
    "municipality": "Onbekende gemeente: vul een Nederlandse gemeente in, bijvoorbeeld Emmen.",
    "phase": "Kies de fase van uw bedrijf.",
    "kvk_number": "Een KvK-nummer bestaat uit precies 8 cijfers, bijvoorbeeld 12345678; of laat het veld leeg.",
    "contact_email": "Vul een geldig e-mailadres in, bijvoorbeeld info@uwbedrijf.nl.",
    "consent": "Zonder uw toestemming kunnen wij uw vraag niet bewaren en beantwoorden.",
}
FIELD_LABELS = {"text": "uw vraag", "municipality": "gemeente", "kvk_number": "KvK-nummer",
                "contact_email": "e-mailadres"}
FIELD_ORDER = (*FIELDS[:2], "phase", "kvk_number", "contact_email", "consent")
FIT_LABELS = {"strong": "past sterk", "fair": "past redelijk", "weak": "past zwak"}
ASKED_KEY = "asked_case"


async def form_data(request: Request) -> FormData:
    return await request.form()


def typed_values(form: FormData) -> dict[str, str | bool]:
    values: dict[str, str | bool] = {name: str(form.get(name) or "") for name in FIELDS}
    values["consent"] = form.get("consent") == "ja"
    return values


def field_errors(error: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str((item.get("loc") or ("text",))[0])
        control_character = text.found_in(item)
        if control_character is not None:
            errors.setdefault(field, text.in_dutch(control_character, FIELD_LABELS.get(field)))
        errors.setdefault(field, DUTCH_MESSAGES.get(field, "Controleer dit veld."))
    return dict(sorted(errors.items(), key=lambda kv: FIELD_ORDER.index(kv[0]) if kv[0] in FIELD_ORDER else 99))


@router.get("/loket")
def question_page(request: Request, visitor: VisitorDep) -> Response:
    return render(request, "loket.html", {"values": {}, "errors": {}})


@router.post("/loket", dependencies=[CsrfDep])
def ask(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    visitor: VisitorDep,
    web_session: WebSessionDep,
    form: FormData = Depends(form_data),
) -> Response:
    question_limit(request, Caller(user=visitor.caller.user), settings)  # the API's limit and counters
    values = typed_values(form)
    payload = {**values, "kvk_number": values["kvk_number"] or None}
    try:
        question = QuestionIn.model_validate(payload)
    except ValidationError as error:
        return render(request, "loket.html", {"values": values, "errors": field_errors(error)}, status_code=422)
    case, _answer = question_service.ask(session=db, question=question, matching=get_matching_state(request))
    db.commit()
    # Post/redirect/get: the route is read back from the case, by this browser only.
    web_session.data[ASKED_KEY] = case.id
    web_session.changed = True
    return RedirectResponse("/ui/loket/antwoord", status_code=303)


@router.get("/loket/antwoord")
def route_page(request: Request, db: SessionDep, visitor: VisitorDep, web_session: WebSessionDep) -> Response:
    case_id = web_session.data.get(ASKED_KEY)
    answer = None
    if isinstance(case_id, int):
        answer = case_service.asked_route(session=db, case_id=case_id)
    return render(request, "loket_answer.html", {"answer": answer, "fit_labels": FIT_LABELS})

