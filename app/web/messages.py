"""Every error a person can meet in the web interface, as a Dutch sentence that says what to do.

Services raise errors with a ``code`` (``app/core/errors.py``); this table turns the code into
Dutch. An error without a known code gets the sentence for its HTTP status: the interface never
shows the API's English text or a code.
"""

from collections.abc import Callable
from typing import Any

from app.core.errors import KoppelkansError
from app.labels import PIPELINE, dutch

Params = dict[str, Any]


def _status(value: object) -> str:
    return dutch(PIPELINE, str(value))


def _transition(params: Params) -> str:
    allowed = [_status(status) for status in params.get("allowed", [])]
    choice = ("Kies een van deze: " + ", ".join(allowed) + "." if allowed
              else "Deze koppeling is afgerond en kan niet verder.")
    return (
        f"Een koppeling met status ‘{_status(params.get('from_status'))}’ kan niet naar "
        f"‘{_status(params.get('to_status'))}’. {choice}"
    )


BY_CODE: dict[str, Callable[[Params], str]] = {
    "transition_not_allowed": _transition,
    "reason_required": lambda p: (
        f"Schrijf bij ‘{_status(p.get('to_status'))}’ in de notitie waarom, en verplaats de koppeling dan opnieuw."
    ),
    "consent_missing": lambda p: (
        "Het bedrijf gaf nog geen toestemming voor deze introductie. Vraag het bedrijf om toestemming te geven "
        "via zijn bewerkingslink; daarna kunt u de koppeling verplaatsen."
    ),
    "owner_unknown": lambda p: "Deze eigenaar bestaat niet meer. Kies een eigenaar uit de lijst.",
    "company_not_found": lambda p: (
        "Dit bedrijf bestaat niet (meer). Zoek het bedrijf op in de lijst met bedrijven of via Zoeken."
    ),
    "need_not_found": lambda p: (
        "Deze behoefte bestaat niet of is niet voor u zichtbaar. Kies een behoefte uit de lijst met behoeften."
    ),
    "match_not_found": lambda p: (
        "Aan deze koppeling is nog niet gewerkt. Open de behoefte of het bedrijf en kies daar een actie."
    ),
    "company_forbidden": lambda p: (
        "Dit bedrijfsprofiel is alleen zichtbaar voor medewerkers en voor het bedrijf zelf. Log in, of open het "
        "profiel met de bewerkingslink van uw bedrijf."
    ),
    "company_change_forbidden": lambda p: (
        "Alleen het bedrijf zelf, een adviseur of een beheerder mag dit profiel wijzigen. Log in met zo'n account "
        "of open het profiel met de bewerkingslink."
    ),
    "register_forbidden": lambda p: (
        "Alleen adviseurs en beheerders melden een bedrijf aan namens dat bedrijf. Log uit om uw eigen bedrijf "
        "aan te melden."
    ),
    "field_required": lambda p: "Vul alle verplichte velden in en sla het profiel opnieuw op.",
    "kvk_taken": lambda p: (
        "Er is al een bedrijf aangemeld met dit KvK-nummer. Bent u uw bewerkingslink kwijt? Vraag een nieuwe "
        "aan via ‘Link kwijt?’."
    ),
    "kvk_desk_only": lambda p: (
        "Het KvK-nummer wijzigt alleen de desk. Klopt het niet? Vraag uw adviseur bij IBDO of de "
        "MKB-defensiedesk het te corrigeren."
    ),
    "region_unknown": lambda p: "Deze regio kennen wij niet. Kies een regio uit de lijst.",
    "month_invalid": lambda p: "Deze maand bestaat niet. Kies een maand in het dashboard, bijvoorbeeld 2026-11.",
    "nld_unknown": lambda p: "Dit NLD-gebied kennen wij niet. Kies een gebied uit de lijst.",
    "status_unknown": lambda p: "Deze status kennen wij niet. Kies een status uit de lijst.",
    "week_invalid": lambda p: "Deze week bestaat niet. Kies een week uit de lijst, bijvoorbeeld 2026-W48.",
    "week_missing": lambda p: (
        f"Voor week {p.get('week', '')} is nog geen weeklijst gemaakt. Kies een andere week uit de lijst."
    ),
    "week_not_buildable": lambda p: (
        "De weeklijst kan nu niet worden gemaakt omdat het koppelen nog opstart. Probeer het over een paar "
        "minuten opnieuw."
    ),
    "weekly_filter_unknown": lambda p: "Dit filter kennen wij niet. Kies een waarde uit de lijst en filter opnieuw.",
    "feedback_no_organisation": lambda p: (
        "Uw account hoort nog bij geen organisatie, dus uw beoordeling kan nergens worden bewaard. Vraag een "
        "beheerder u aan uw organisatie toe te voegen, of de koppeling voor iedereen te beoordelen."
    ),
    "case_inbox_forbidden": lambda p: (
        "De inbox van het loket is voor adviseurs en beheerders. Log in met zo'n account, of vraag een "
        "beheerder om toegang."
    ),
    "case_company_missing": lambda p: "Kies eerst het bedrijf waaraan u de casus wilt koppelen.",
    "case_step_unknown": lambda p: "Deze stap kennen wij niet. Kies een actie op de pagina van de casus.",
    "kpi_year_missing": lambda p: "Voor dit jaar zijn er geen KPI's. Kies een ander jaar.",
    "export_type_unknown": lambda p: "Kies een download als CSV of als Excel (XLSX).",
    "weekly_list_forbidden": lambda p: (
        "De weeklijst is voor het Regioteam, adviseurs en beheerders. Vraag een beheerder om toegang als u hem "
        "nodig heeft."
    ),
    "build_forbidden": lambda p: (
        "Alleen een beheerder kan een weeklijst met de hand maken; de lijst wordt elke week vanzelf gemaakt."
    ),
    "web_login_forbidden": lambda p: (
        "Dit account heeft geen toegang tot de webinterface. Vraag een beheerder om een account met een rol."
    ),
    "edit_link_invalid": lambda p: (
        "Deze bewerkingslink is niet (meer) geldig. Vraag een nieuwe link aan via ‘Link kwijt?’."
    ),
    "consent_forbidden": lambda p: (
        "Alleen het bedrijf zelf geeft of trekt toestemming in, via zijn eigen bewerkingslink."
    ),
    "staff_only": lambda p: "Deze pagina is voor medewerkers. Log in met uw account om verder te gaan.",
    "desk_only": lambda p: "Dit kan alleen een adviseur of beheerder. Vraag een van hen het voor u te doen.",
    "handover_gone": lambda p: (
        "De bewerkingslink is al verstuurd of niet meer beschikbaar. Maak zo nodig een nieuwe link aan op de "
        "bedrijfspagina."
    ),
    "no_contact_address": lambda p: (
        "Dit bedrijf heeft geen e-mailadres in zijn profiel. Vul eerst een e-mailadres in."
    ),
    "too_many_requests": lambda p: (
        f"Te veel pogingen vanaf dit adres. Wacht {p.get('retry_after', 60)} seconden en probeer het dan opnieuw."
    ),
    "csrf": lambda p: (
        "Dit formulier is verlopen, bijvoorbeeld omdat u lang niets deed of opnieuw inlogde. Laad de pagina "
        "opnieuw en probeer het nog eens."
    ),
}

BY_STATUS = {
    400: "Dit verzoek kunnen wij niet verwerken. Ga terug en probeer het opnieuw.",
    401: "Log in om verder te gaan.",
    403: (
        "U heeft geen toegang tot deze pagina. Log in met een account dat wel toegang heeft, of ga terug naar "
        "de start."
    ),
    404: "Deze pagina bestaat niet (meer). Controleer het adres of ga terug naar de start.",
    405: "Deze pagina kan zo niet worden geopend. Ga terug naar de start en gebruik de knoppen op de pagina.",
    409: "Dit botst met gegevens die er al zijn. Controleer wat u invulde en probeer het opnieuw.",
    413: "Wat u verstuurde is te groot. Maak de tekst korter en probeer het opnieuw.",
    422: "Wat u invulde of koos klopt niet. Controleer het en probeer het opnieuw.",
    429: "Te veel pogingen vanaf dit adres. Wacht een minuut en probeer het dan opnieuw.",
    500: (
        "Er ging bij ons iets mis. Probeer het over een paar minuten opnieuw; blijft het misgaan, neem dan "
        "contact op met de MKB-defensiedesk."
    ),
    503: "Koppelkans start nog op. Probeer het over een minuut opnieuw.",
}

TITLES = {403: "Geen toegang", 404: "Niet gevonden", 429: "Even geduld", 500: "Er ging iets mis"}


def for_code(code: str, params: Params | None = None) -> str:
    return BY_CODE[code](params or {})


def for_status(status_code: int) -> str:
    return BY_STATUS.get(status_code) or BY_STATUS[500 if status_code >= 500 else 400]


def for_error(error: KoppelkansError) -> str:
    """The Dutch sentence for a service error: by its code, else by its status."""
    if error.code in BY_CODE:
        return for_code(error.code, error.params)
    return for_status(error.status_code)


def title_for(status_code: int) -> str:
    return TITLES.get(status_code, "Niet gelukt")
