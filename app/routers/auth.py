"""Password login for people; every other protected call takes a bearer token."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response, status

from app.core.text import FormText
from app.deps import BearerDep, SessionDep, SettingsDep, StaffDep, login_limit
from app.models import User, id_of
from app.schemas import TokenOut, UserOut
from app.services import users as user_service
from app.services.needs import organisation_ref

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, dependencies=[Depends(login_limit)],
             responses={401: {"description": "Wrong username or password"}})
def login(
    username: Annotated[FormText, Form(max_length=100)],
    password: Annotated[FormText, Form(max_length=500)],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """Exchange username and password (form fields) for a bearer token valid for a working day."""
    user = user_service.authenticate(session=session, username=username, password=password)
    token, record = user_service.issue_token(
        session=session, user=user, name="login", lifetime=timedelta(hours=settings.login_token_hours)
    )
    return TokenOut(access_token=token, expires_at=record.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(caller: StaffDep, credentials: BearerDep, session: SessionDep) -> Response:
    """End the bearer token of this call (a script or session that is done); the caller's other
    tokens and web logins go on working."""
    if credentials is not None:
        user_service.revoke_token(session=session, token=credentials.credentials)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout-everywhere", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout_everywhere(caller: StaffDep, session: SessionDep) -> Response:
    """End every bearer token and web session of the caller, this token included (a lost laptop,
    a token that leaked): log in again afterwards."""
    user = session.get(User, id_of(caller.logged_in_user))
    if user is not None:
        user_service.end_sessions(session=session, user=user)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
def who_am_i(caller: StaffDep, session: SessionDep) -> UserOut:
    user = caller.logged_in_user
    return UserOut(id=id_of(user), username=user.username, full_name=user.full_name, role=user.role,
                   organisation=organisation_ref(session, user))
