"""The exceptions the bot raises on purpose. Each message says what went wrong and what to do.

Only a failing answer model is answered with the extractive fallback: the service catches
``AnswerModelError`` (and anything else the model raises) there. A failed search is logged and
raised as ``AskFailedError``; ``InvalidQuestionError``, ``UnknownCourseError``,
``UnknownInteractionError`` and ``StoreUnavailableError`` also reach the caller, and the
adapters turn them into a reply. The judge worker retries on ``JudgeError`` and records a
``JudgeMalformedError`` as a judge failure. Any of them that reaches ``python -m bot`` (a
``ConfigError`` above all) is printed as one error line, exit status 2."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError, ValueError):
    """A setting or the courses file cannot be used as it is; the message names which."""


class UnknownCourseError(BotError, LookupError):
    """A course id that the courses file does not define."""

    def __init__(self, course_id: str, known: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(course_id, tuple(known))
        self.course_id = course_id
        self.known = tuple(known)

    def __str__(self) -> str:
        known = ", ".join(repr(k) for k in self.known) or "none"
        return (
            f"unknown course {self.course_id!r}: the courses are {known} (yours go in COURSES_FILE)"
        )


class InvalidQuestionError(BotError, ValueError):
    """A question the service will not process (empty, too long); says what to change."""


class QuestionRefusedError(BotError):
    """The service will not answer this question now; ``student_text`` (in the course's
    language) says why and what to do. The question was kept all the same."""

    def __init__(self, student_text: str, reason: str) -> None:
        super().__init__(reason)
        self.student_text = student_text


class RateLimitedError(QuestionRefusedError):
    """The student asked faster than the course's rate limit allows."""

    def __init__(self, student_text: str, wait_s: float) -> None:
        super().__init__(student_text, f"rate limited: ask again in {wait_s:.0f} s")
        self.wait_s = wait_s


class InvalidGradeError(BotError, ValueError):
    """A TA grade the service will not keep (a label other than C/I, an AR grade outside 0-3,
    a grader that is not a pseudonym); the message says what to change."""


class AskFailedError(BotError):
    """A question could not be answered at all; the failure is logged under ``interaction_id``.

    ``tas_alert``: what the adapter tells the course's TAs (the service sets it), empty when
    they are not to be told now; ``tas_told_lately``: they were told of this kind of failure
    a few minutes ago (``TaAlerts``), so the student may hear that the TAs know."""

    def __init__(
        self, interaction_id: str, message: str, tas_alert: str = "", tas_told_lately: bool = False
    ) -> None:
        super().__init__(interaction_id, message)
        self.interaction_id = interaction_id
        self.message = message
        self.tas_alert = tas_alert
        self.tas_told_lately = tas_told_lately

    def __str__(self) -> str:
        return f"interaction {self.interaction_id}: {self.message}"


class RestartingError(AskFailedError):
    """The bot is restarting: the question was refused, or cut short when the restart's
    grace ended; kept under ``interaction_id``. The adapters ask the student to ask again
    in a minute (an adapter that does not know it shows the failure with the reference)."""

    def __init__(self, interaction_id: str, message: str) -> None:
        super().__init__(interaction_id, message)


class UnknownInteractionError(BotError, LookupError):
    """An interaction id that the store does not hold."""

    def __init__(self, interaction_id: str) -> None:
        super().__init__(interaction_id)
        self.interaction_id = interaction_id

    def __str__(self) -> str:
        return f"no interaction {self.interaction_id!r} in the store"


class StoreUnavailableError(BotError):
    """The database cannot be read right now (down, unreachable); ``cause`` says why."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause

    def __str__(self) -> str:
        return f"the database cannot be read right now ({self.cause}); try again in a minute"


class ClaudeCallError(BotError):
    """A call to Claude that failed after the SDK's own retries.

    ``cause`` is a short description for the log (``"529 overloaded_error: Overloaded"``);
    ``status`` is the HTTP status when there was one (``None`` for connection errors and
    time-outs).
    """

    def __init__(self, cause: str, status: int | None = None) -> None:
        super().__init__(cause, status)
        self.cause = cause
        self.status = status


class AnswerModelError(ClaudeCallError):
    """Claude could not answer, after the SDK's own retries."""

    def __str__(self) -> str:
        return (
            f"Claude could not answer: {self.cause}. The extractive fallback answers "
            "meanwhile; if this persists check ANTHROPIC_API_KEY, ANSWER_MODEL and "
            "https://status.anthropic.com."
        )


class JudgeError(ClaudeCallError):
    """The judge could not reach Claude, after the SDK's own retries."""

    def __str__(self) -> str:
        return (
            f"the judge could not reach Claude: {self.cause}. The interaction stays "
            "pending and is judged on a later sweep; check ANTHROPIC_API_KEY and JUDGE_MODEL."
        )


class JudgeMalformedError(JudgeError):
    """Claude answered, but never with a usable verdict; ``problems`` lists each attempt's."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    def __str__(self) -> str:
        return (
            f"the judge gave no usable verdict in {len(self.problems)} attempt(s): "
            f"{'; '.join(self.problems)}. Try another JUDGE_MODEL if this keeps happening."
        )


class VerdictValidationError(BotError, ValueError):
    """One judge reply that cannot be used; ``field`` names the offending part of it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class UnreachableError(BotError, ConnectionError):
    """A service the bot needs (Discord, Slack) cannot be reached; the message names it and
    what to check."""
