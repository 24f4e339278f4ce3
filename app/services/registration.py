"""Self-registration, answered alike whether the KvK number is new or known.

Whether a company is in the Defence matching database is not for strangers to learn: an
anonymous registration gets the same answer either way (RECEIVED), and the next step goes by
e-mail to the contact address Koppelkans holds for that KvK number: for a new company its edit
link (the only place its edit token is ever shown), for a known one a notice that someone tried
to register it, with a link to its profile (app/services/edit_links.py). A registration whose
answer was lost is therefore never a lock-out: sending it again mails the link again.
"""

from sqlmodel import Session

from app.core.errors import Conflict
from app.models import Company
from app.schemas import CompanyCreate
from app.services import audit, edit_links, mail
from app.services import companies as company_service
from app.services.access import ANONYMOUS

RECEIVED = (
    "Dank u voor de aanmelding. De volgende stap sturen wij per e-mail naar het contactadres dat bij "
    "Koppelkans voor dit KvK-nummer bekend is. Geen e-mail ontvangen? Kijk ook bij uw ongewenste e-mail, "
    "of neem contact op met het loket."
)
PURPOSE_REGISTERED = "registration"
PURPOSE_ATTEMPT = "registration_attempt"


def register_self(*, session: Session, company_in: CompanyCreate) -> int | None:
    """Registers a company for an anonymous caller and queues the mail with its edit link; for a
    known KvK number, queues the notice to the known company instead. Returns the new company's id
    (None when the number was known). Nothing in the outcome is for the caller to see."""
    try:
        company, edit_token = company_service.register(session=session, caller=ANONYMOUS, company_in=company_in)
    except Conflict:  # also when another request registered the number at this very moment
        _notify_known_company(session, company_in.kvk_number)
        return None
    mail.queue_mail(
        session, to=company.contact_email or "", subject="Uw aanmelding bij Koppelkans",
        body=_registered_body(company, edit_token), purpose=PURPOSE_REGISTERED, company_id=company.id,
    )
    return company.id


def _notify_known_company(session: Session, kvk_number: str) -> None:
    known = company_service.find_by_kvk(session, kvk_number)
    if known is None or known.id is None:
        return
    audit.record(session, ANONYMOUS, "registration_attempt", "company", known.id)
    if known.contact_email:  # a seed or imported record without a contact cannot be told
        mail.queue_mail(
            session, to=known.contact_email, subject="Iemand probeerde uw bedrijf aan te melden bij Koppelkans",
            body=_attempt_body(known), purpose=PURPOSE_ATTEMPT, company_id=known.id,
        )


def _greeting(company: Company) -> str:
    return f"Beste {company.contact_name}," if company.contact_name else "Geachte heer, mevrouw,"


def _registered_body(company: Company, edit_token: str) -> str:
    assert company.id is not None
    return f"""{_greeting(company)}

{company.name} (KvK {company.kvk_number}) is aangemeld bij Koppelkans, dat MKB-bedrijven in
Noord-Nederland koppelt aan defensiebehoeften, NLD-sleutelgebieden en innovatieprogramma's.

Met deze persoonlijke link bekijkt, wijzigt of verwijdert u het profiel:
{edit_links.page_url(company.id, edit_token)}

Bewaar deze e-mail: de link is uw toegang tot het profiel en wordt niet opnieuw getoond.
Deel hem alleen met wie het profiel mag beheren. Voor de API is dit uw sleutel
(header X-Edit-Token): {edit_token}

Heeft u het bedrijf niet aangemeld? Open dan de link en verwijder het profiel.

Met vriendelijke groet,
Koppelkans
"""


def _attempt_body(company: Company) -> str:
    return f"""{_greeting(company)}

Zojuist heeft iemand geprobeerd {company.name} (KvK {company.kvk_number}) aan te melden bij
Koppelkans. Dit bedrijf staat al ingeschreven: er is niets gewijzigd en niemand anders heeft
toegang gekregen.

Was u dat zelf, bijvoorbeeld omdat u de link naar uw profiel kwijt bent? Met deze link bekijkt,
wijzigt of verwijdert u het profiel ({edit_links.LINK_LIFETIME_DAYS} dagen geldig):
{edit_links.edit_link(company)}

Was u het niet, dan hoeft u niets te doen.

Met vriendelijke groet,
Koppelkans
"""
