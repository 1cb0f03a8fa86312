"""The Slack adapter: Slack events in, ``Question``s to the service, Block Kit answers out.

Only this package imports ``slack_bolt``/``slack_sdk``; what the messages look like is
decided in ``bot.adapters.slack_render`` (pure). Every listener acks at once and does its
work in a bolt *lazy* listener, so it works in HTTP mode, Socket Mode and FaaS
(``process_before_response=True``) alike.

Where the answer's interaction id lives: in the answer message's ``metadata``
(``event_type=course_assistant_answer``, payload ``{interaction_id, course_id}``) and in the
feedback buttons' values. A reaction finds it from a small in-process cache of the answers
this process posted, else by reading the message back with ``conversations.replies``
(``include_all_metadata``), so votes still count after a restart with no table of our own.

Bot scopes: app_mentions:read, chat:write, commands, reactions:read, reactions:write,
channels:history, groups:history, im:history, usergroups:read, files:write. Events:
app_mention, message.channels, message.groups, message.im, reaction_added, reaction_removed.
Slash commands: /ask, /digest, /review, /reindex, /forget. Interactivity on (same request URL).

Modules: ``app`` (client, listener registration, HTTP and Socket Mode), ``asking``
(mentions, thread replies, DMs, ``/ask``), ``answering`` (placeholder, progress, the answer,
failures), ``feedback`` (reactions, vote and escalation buttons), ``commands`` (TA
commands), ``tas`` (who is a TA), ``routing`` (which course), ``middleware`` (retried
events), ``listeners`` (ack, logging), ``digest`` (the weekly digest).
"""

from __future__ import annotations

from bot.adapters.slack.app import (
    SlackAssistant,
    bot_client,
    build_app,
    run_http,
    run_socket_mode,
)
from bot.adapters.slack.digest import post_digest, post_digest_with_token
from bot.adapters.slack.middleware import Recent
from bot.adapters.slack.routing import command_course, dm_course, slack_channels

__all__ = [
    "Recent",
    "SlackAssistant",
    "bot_client",
    "build_app",
    "command_course",
    "dm_course",
    "post_digest",
    "post_digest_with_token",
    "run_http",
    "run_socket_mode",
    "slack_channels",
]
