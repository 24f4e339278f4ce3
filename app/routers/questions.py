"""The loket: anyone asks a question and gets its route at once."""

from fastapi import APIRouter, Depends, status

from app.deps import MatchingStateDep, RateLimit, SessionDep
from app.schemas_loket import QuestionAnswer, QuestionIn
from app.services import questions as question_service

router = APIRouter(tags=["loket"])

# As anonymous as a registration, and limited the same way (its own counters).
question_limit = RateLimit("question", "registration_rate_limit")


@router.post(
    "/questions",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionAnswer,
    dependencies=[Depends(question_limit)],
    responses={429: {"description": "Too many questions from this address"}},
)
def ask_question(question: QuestionIn, session: SessionDep, matching: MatchingStateDep) -> QuestionAnswer:
    """Ask the loket a question, suggestion or idea (Dutch or English).

    The answer, in Dutch: who helps (and why, and how to reach them), which programmes fit the
    company's phase, and which open needs and calls fit the question. The question is kept as a
    case on the desk's inbox; quote the `reference` when contacting the desk.
    """
    _case, answer = question_service.ask(session=session, question=question, matching=matching)
    session.commit()  # the answer is given only once the case is stored
    return answer
