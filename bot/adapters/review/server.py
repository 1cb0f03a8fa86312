"""The review page's HTTP handlers (aiohttp): a GET that lists a week and a POST that grades
an answer, both behind the signed link's token, which travels in the query and in each form.

No cookie or session exists, so a form on another site cannot act for a TA (it would need the
token) and a link that stops being valid stops everything at once. Every refusal is a 403
that shows nothing of the course. The handlers only check the link, call the service and
render; the rules live in the service.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.adapters.review.page import (
    INVALID_GRADE_HTML,
    NOT_READ_HTML,
    NOT_SAVED_HTML,
    REFUSED_HTML,
    UNKNOWN_ANSWER_HTML,
    PageView,
    page_url_for,
    parse_filter,
    parse_week,
    render_page,
)
from bot.errors import ConfigError, InvalidGradeError, UnknownInteractionError
from bot.review_links import LinkRefused, ReviewAccess
from bot.service import AssistantService

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
HEADERS = {
    # Nothing from elsewhere may load, nothing may frame the page, no referrer leaves it.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # a TA's page on a shared computer stays theirs
}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def failures_told(handler: Handler, told: str) -> Handler:
    """A failure (the database down, a bug) is logged and told on the page ``told``, never
    as a traceback."""

    @functools.wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise  # a redirect, or aiohttp's own answers
        except Exception:
            log.exception("review page: %s %s failed", request.method, request.path)
            return _html(told, 503)

    return handle


class ReviewPage:
    def __init__(self, service: AssistantService) -> None:
        self.service = service

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/review/{course}", failures_told(self.show, NOT_READ_HTML))
        app.router.add_post("/review/{course}/nota", failures_told(self.grade, NOT_SAVED_HTML))

    async def show(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        access = self._access(token, request)
        if access is None:
            return _refused()
        course_id, week = access.course_id, parse_week(request.query.get("semana"))
        review, alignment = await asyncio.gather(
            self.service.review_week(course_id, week),
            self.service.judge_alignment(course_id, week),
        )
        view = PageView(
            week=review,
            alignment=alignment,
            access=access,
            token=token,
            chosen=parse_filter(request.query.get("f")),
            query=request.query.get("q", "")[:MAX_QUERY_CHARS],
            saved=request.query.get("salvo", ""),
        )
        return _html(render_page(view))

    async def grade(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("t", ""))
        access = self._access(token, request)
        if access is None:
            return _refused()
        interaction_id = str(form.get("id", ""))
        try:
            await self.service.grade_answer(
                access.course_id,
                interaction_id,
                access.ta_ref,
                str(form.get("rotulo", "")),
                _ar_grade(str(form.get("ar", ""))),
                str(form.get("comentario", "")),
            )
        except InvalidGradeError:
            return _html(INVALID_GRADE_HTML, 400)
        except UnknownInteractionError:
            return _html(UNKNOWN_ANSWER_HTML, 404)
        # Back to the same week, filter and search, at the answer just graded (POST, then
        # redirect, then GET: reloading the page does not send the grade again).
        back = {k: str(form.get(k, "")) for k in ("semana", "f", "q")}
        location = page_url_for(access.course_id, token, salvo=interaction_id, **back)
        raise web.HTTPSeeOther(f"{location}#i-{interaction_id}")

    def _access(self, token: str, request: web.Request) -> ReviewAccess | None:
        try:
            return self.service.review_access(token, request.match_info["course"])
        except LinkRefused as refused:
            # The reason goes to the log only; the token, a credential, does not.
            log.warning("review page: refused %s %s: %s", request.method, request.path, refused)
            return None


def _ar_grade(chosen: str) -> int | None:
    """The form's AR choice: none, or a whole number (the service checks it is 0-3)."""
    if not chosen:
        return None
    try:
        return int(chosen)
    except ValueError:
        raise InvalidGradeError(f"an AR grade is a whole number, not {chosen!r}") from None


class AccessLogWithoutQueries(AbstractAccessLogger):
    """The access log with each request's path but not its query, which holds a review
    link's token (a credential, never logged)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.3f s',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


def _refused() -> web.Response:
    return _html(REFUSED_HTML, 403)


def add_review_routes(app: web.Application, service: AssistantService) -> None:
    """Serve the review page from an aiohttp app (the Slack HTTP server's, or its own)."""
    ReviewPage(service).add_routes(app)


async def serve_review(service: AssistantService, host: str, port: int) -> None:
    """Serve the review page alone on ``host:port`` until cancelled."""
    app = web.Application()
    add_review_routes(app, service)
    runner = web.AppRunner(app, access_log_class=AccessLogWithoutQueries)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {host}:{port} for the review page "
                f"({error.strerror or error}): choose a free port with --port"
            ) from error
        log.info("review page: listening on http://%s:%d/review/<course>", host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
