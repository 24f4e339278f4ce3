"""Who is calling, and what they may see.

A caller is a person with a role (through a bearer token), a company (through its edit token),
or anonymous. The rules for personal data live here so every endpoint applies the same ones.
"""

from dataclasses import dataclass

from app.core.errors import Unauthorized
from app.domain import Role
from app.models import CompanyRecord, User

STAFF_ROLES = frozenset(Role)
# The provincial desk: may register companies on their behalf and always sees contact details.
DESK_ROLES = frozenset({Role.admin, Role.adviser})
# Defence parties: see contact details only where the company consented.
DEFENCE_ROLES = frozenset({Role.scout, Role.regioteam})
# The weekly match lists: the Regioteam and the provincial desk.
LIST_READER_ROLES = frozenset({Role.regioteam, Role.adviser, Role.admin})


@dataclass(frozen=True)
class Caller:
    user: User | None = None
    company_id: int | None = None  # set when a valid X-Edit-Token for this company came with the request

    @property
    def logged_in_user(self) -> User:
        """The user behind the bearer token or web session; refuses anonymous callers and companies."""
        if self.user is None:
            raise Unauthorized("log in first: send Authorization: Bearer <token>")
        return self.user

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.role in STAFF_ROLES

    @property
    def is_desk(self) -> bool:
        return self.user is not None and self.user.role in DESK_ROLES

    @property
    def reads_weekly_lists(self) -> bool:
        return self.user is not None and self.user.role in LIST_READER_ROLES

    @property
    def label(self) -> str:
        """How the caller appears in the audit log: ids and role, no names."""
        if self.user is not None:
            return f"user:{self.user.id} ({self.user.role})"
        if self.company_id is not None:
            return f"company:{self.company_id}"
        return "anonymous"

    def owns(self, company_id: int | None) -> bool:
        return self.company_id is not None and self.company_id == company_id


ANONYMOUS = Caller()


def may_see_contact(caller: Caller, company: CompanyRecord, *, introduction_consented: bool = False) -> bool:
    """Defence parties see who to call only after the company consented: to all Defence contact,
    or to the introduction at hand (``introduction_consented``)."""
    if caller.owns(company.id) or caller.is_desk:
        return True
    if caller.user is not None and caller.user.role in DEFENCE_ROLES:
        return company.consent_defence_contact or introduction_consented
    return False


def may_see_consents(caller: Caller, company: CompanyRecord) -> bool:
    return caller.owns(company.id) or caller.is_desk
