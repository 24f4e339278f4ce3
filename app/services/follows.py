"""Companies and needs a staff member follows, and those they own: what their match inbox watches."""

from sqlmodel import Session, col, or_, select

from app.models import Company, Follow, Need, User, id_of


def is_following(session: Session, user: User, *, company_id: int | None = None, need_id: int | None = None) -> bool:
    return _find(session, user, company_id=company_id, need_id=need_id) is not None


def set_following(
    session: Session, user: User, following: bool, *, company_id: int | None = None, need_id: int | None = None
) -> None:
    """Follows (or stops following) one company or one need; doing it twice changes nothing."""
    existing = _find(session, user, company_id=company_id, need_id=need_id)
    if following and existing is None:
        session.add(Follow(user_id=id_of(user), company_id=company_id, need_id=need_id))
    elif not following and existing is not None:
        session.delete(existing)
    session.flush()


def _find(session: Session, user: User, *, company_id: int | None, need_id: int | None) -> Follow | None:
    if (company_id is None) == (need_id is None):
        raise ValueError("follow exactly one company or one need")
    statement = select(Follow).where(Follow.user_id == user.id)
    if company_id is not None:
        statement = statement.where(Follow.company_id == company_id)
    else:
        statement = statement.where(Follow.need_id == need_id)
    return session.exec(statement).first()


def watched_need_ids(session: Session, user: User, limit: int) -> list[int]:
    """The needs a person follows, created, or that belong to their organisation; followed ones
    first, then the newest."""
    followed = list(session.exec(
        select(Follow.need_id).where(Follow.user_id == user.id, col(Follow.need_id).is_not(None))
        .order_by(col(Follow.id).desc())).all())
    owned_condition = [Need.created_by_user_id == user.id]
    if user.organisation_id is not None:
        owned_condition.append(Need.owner_organisation_id == user.organisation_id)
    owned = list(session.exec(
        select(Need.id).where(or_(*owned_condition), Need.status == "open")
        .order_by(col(Need.created_at).desc()).limit(limit)).all())
    return _first_unique([need_id for need_id in followed if need_id is not None]
                         + [need_id for need_id in owned if need_id is not None], limit)


def watched_company_ids(session: Session, user: User, limit: int) -> list[int]:
    """The companies a person follows or registered on their behalf; followed ones first."""
    followed = list(session.exec(
        select(Follow.company_id).where(Follow.user_id == user.id, col(Follow.company_id).is_not(None))
        .order_by(col(Follow.id).desc())).all())
    registered = list(session.exec(
        select(Company.id).where(Company.registered_by_user_id == user.id, Company.status == "active")
        .order_by(col(Company.created_at).desc()).limit(limit)).all())
    return _first_unique([company_id for company_id in followed if company_id is not None]
                         + [company_id for company_id in registered if company_id is not None], limit)


def followed(session: Session, user: User) -> tuple[list[Company], list[Need]]:
    """What a person follows, companies and needs, by name."""
    companies = session.exec(select(Company).join(Follow, col(Follow.company_id) == Company.id)
                             .where(Follow.user_id == user.id).order_by(Company.name)).all()
    needs = session.exec(select(Need).join(Follow, col(Follow.need_id) == Need.id)
                         .where(Follow.user_id == user.id).order_by(Need.title)).all()
    return list(companies), list(needs)


def _first_unique(ids: list[int], limit: int) -> list[int]:
    return list(dict.fromkeys(ids))[:limit]
