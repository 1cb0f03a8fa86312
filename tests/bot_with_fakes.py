"""``python -m tests.bot_with_fakes <command>``: the real ``python -m bot`` in its own process,
with the two things no setting points elsewhere swapped for the tests' own:

- Slack's Web API is the loopback fake at ``FAKE_SLACK_API_URL`` (tests/fakes/slack_api.py);
- the lectures are the fixture segments ranked by shared words (tests/fakes/core.py), so the
  process starts in a second, with no embedding model and no index to build.

Everything else (settings, the courses file, the store, Claude through ANTHROPIC_BASE_URL,
signals, the exit status) is the product's own code path."""

from __future__ import annotations

import os
import sys
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

import bot.adapters.slack.app as slack_app
import bot.cli.serve as serve
from bot.__main__ import main
from bot.app import Retrieval
from bot.config import Settings
from retrieval.segments import SegmentingSettings
from tests.fakes.core import WordOverlapRetriever


class FixtureRetriever(WordOverlapRetriever):
    def close(self) -> None:
        pass


class NoEmbedder:
    """Names the embedder in the answers' version; the fixture retriever embeds nothing, and
    the digest (which would) is not built in these runs."""

    name = "fixture-word-overlap"

    def embed_queries(self, texts: Any) -> Any:
        raise NotImplementedError("the fixture lectures are ranked by shared words")


def _fake_slack_client(settings: Settings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(token=token, base_url=os.environ["FAKE_SLACK_API_URL"])


async def _fixture_retrieval(settings: Settings) -> Any:
    return Retrieval(
        index=None,  # type: ignore[arg-type]
        embedder=NoEmbedder(),  # type: ignore[arg-type]
        retriever=FixtureRetriever(),
        segmenting=SegmentingSettings(),
    )


if __name__ == "__main__":
    slack_app.bot_client = _fake_slack_client  # type: ignore[assignment]
    serve._loaded_retrieval = _fixture_retrieval  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
