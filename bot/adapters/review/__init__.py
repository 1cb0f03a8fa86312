"""The review page: a small server-rendered site where a course's TAs read the week's
answers and grade them, reached only through the signed links ``/review`` hands out.

``page`` renders (pure HTML, no script); ``server`` holds the aiohttp handlers, mounted on
the Slack HTTP server or served alone by ``python -m bot review``. No chat library here.
"""

from __future__ import annotations

from bot.adapters.review.server import (
    AccessLogWithoutQueries,
    ReviewPage,
    add_review_routes,
    serve_review,
)

__all__ = ["AccessLogWithoutQueries", "ReviewPage", "add_review_routes", "serve_review"]
