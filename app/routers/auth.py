"""Password login for people; every other protected call takes a bearer token."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.deps import SessionDep, SettingsDep, StaffDep, login_limit
from app.models import id_of
from app.schemas import TokenOut, UserOut
from app.services import users as user_service
from app.services.needs import organisation_ref

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, dependencies=[Depends(login_limit)],
             responses={401: {"description": "Wrong username or password"}})
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Exchange username and password (form fields) for a bearer token valid for a working day."""
    user = user_service.authenticate(session=session, username=form.username, password=form.password)
    token, record = user_service.issue_token(
        session=session, user=user, name="login", lifetime=timedelta(hours=settings.login_token_hours)
    )
    return TokenOut(access_token=token, expires_at=record.expires_at)


@router.get("/me", response_model=UserOut)
def who_am_i(caller: StaffDep, session: SessionDep) -> UserOut:
    user = caller.logged_in_user
    return UserOut(id=id_of(user), username=user.username, full_name=user.full_name, role=user.role,
                   organisation=organisation_ref(session, user))
