"""A company, through its edit link, agrees to (or withdraws from) an introduction for one need:
the pipeline's consent, which releases its contact details to the Defence parties working on it."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.core.errors import Forbidden
from app.deps import SessionDep
from app.models import Company, Need
from app.services import companies as company_service
from app.services import needs as need_service
from app.services import pipeline as pipeline_service
from app.services.access import Caller
from app.web.routing import HtmlRoute
from app.web.session import CsrfDep, LoginRequired, Visitor, VisitorDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)


def _own_company_and_need(
    db: Session, visitor: Visitor, company_id: int, need_id: int
) -> tuple[Caller, Company, Need]:
    caller = visitor.caller
    if caller.user is None and caller.company_id is None:
        raise LoginRequired()
    if not caller.owns(company_id):
        raise Forbidden(
            "alleen het bedrijf zelf (via zijn bewerkingslink) geeft toestemming voor een introductie"
        )
    company = company_service.get(session=db, company_id=company_id)
    need = need_service.get(session=db, caller=caller, need_id=need_id)
    return caller, company, need


@router.post("/bedrijf/{company_id}/introductie/{need_id}", dependencies=[CsrfDep])
def consent(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: VisitorDep) -> Response:
    caller, company, need = _own_company_and_need(db, visitor, company_id, need_id)
    pipeline_service.consent_to_introduction(db, caller, company, need)
    db.commit()
    return RedirectResponse(f"/ui/bedrijf/{company_id}#behoefte-{need_id}", status_code=303)


@router.post("/bedrijf/{company_id}/introductie/{need_id}/intrekken", dependencies=[CsrfDep])
def withdraw(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: VisitorDep) -> Response:
    caller, company, need = _own_company_and_need(db, visitor, company_id, need_id)
    pipeline_service.withdraw_consent(db, caller, company, need)
    db.commit()
    return RedirectResponse(f"/ui/bedrijf/{company_id}#behoefte-{need_id}", status_code=303)
