"""Talking to the Bot API: retries that never send a reply twice, flood limits, and a token kept out of logs.

Retry policy (the Bot API has no idempotency keys, so a resend of ``sendMessage`` after an unknown
outcome may show the reply twice):

- 429 RetryAfter: Telegram did not process the call; PTB's AIORateLimiter waits and retries.
- 500/502/503: the server answered that it failed; retried with backoff. 504 (a proxy gave up
  waiting, the call may have gone through) is retried only for idempotent methods.
- Failures before the request left (connect errors and timeouts, pool and write timeouts): retried.
- Dropped connections (reset, closed without a response): retried. They come almost always from
  a stale keep-alive connection that a proxy or NAT closed, so the request never reached Telegram.
- Read timeouts: the server had the whole request and is slow, so it has most likely processed it.
  Retried only for idempotent methods (edits, chat actions, callback answers, getters); a
  ``sendMessage`` is not resent, preferring a rare lost reply (logged) to a duplicate one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from typing import Any

import httpx
from telegram.error import NetworkError
from telegram.ext import AIORateLimiter
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)

# Safe to repeat: calling twice leaves Telegram in the same state as calling once.
IDEMPOTENT = frozenset({
    "getMe", "getFile", "getChat", "getUpdates", "getWebhookInfo", "setWebhook", "deleteWebhook",
    "setMyCommands", "deleteMyCommands", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery",
    "sendChatAction", "leaveChat", "deleteMessage", "logOut", "close",
})
RETRY_STATUS = frozenset({500, 502, 503, 504})
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout, httpx.WriteError)
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)
# Calls that are not messages: Telegram's per-group limit of 20 messages a minute does not apply.
NOT_MESSAGES = frozenset({"sendChatAction", "answerCallbackQuery", "getFile", "leaveChat", "getChat"})
NOT_MODIFIED = b"message is not modified"


def may_retry(endpoint: str, cause: BaseException | None) -> bool:
    """Whether a call that failed with ``cause`` (an httpx error) may be sent again."""
    if isinstance(cause, NEVER_SENT + DROPPED):
        return True
    return isinstance(cause, httpx.ReadTimeout) and endpoint in IDEMPOTENT


class RetryingRequest(HTTPXRequest):
    """PTB's httpx transport with the retry policy of this module."""

    def __init__(self, *, attempts: int = 4, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts = max(1, attempts)
        self.backoff = backoff

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = HTTPXRequest.DEFAULT_NONE, write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
                         connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
                         pool_timeout: Any = HTTPXRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """Send, retrying what the policy allows; the URL (it holds the token) is never logged."""
        endpoint = url.rsplit("/", 1)[-1]
        for attempt in range(1, self.attempts + 1):
            try:
                code, payload = await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                                         connect_timeout, pool_timeout)
            except NetworkError as exc:  # TimedOut is a NetworkError; the httpx error is its cause
                if attempt == self.attempts or not may_retry(endpoint, exc.__cause__):
                    raise
                why = type(exc.__cause__).__name__
            else:
                # An edit that went through before its response was lost: the retry finds nothing to change.
                if attempt > 1 and code == 400 and NOT_MODIFIED in payload:
                    return 200, b'{"ok": true, "result": true}'
                if (code not in RETRY_STATUS or attempt == self.attempts
                        or (code == 504 and endpoint not in IDEMPOTENT)):
                    return code, payload
                why = f"HTTP {code}"
            log.warning("%s failed (%s); retry %d of %d", endpoint, why, attempt, self.attempts - 1)
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")


class FloodLimiter(AIORateLimiter):
    """PTB's AIORateLimiter for messages; typing actions and button answers are not messages, so they
    pass unthrottled (PTB applies its limits to calls that name a chat). A RetryAfter still pauses all."""

    async def process_request(self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: int | None) -> Any:
        """Limit and retry on RetryAfter as PTB does, keyed by chat only for real messages."""
        if endpoint in NOT_MESSAGES:
            data = {k: v for k, v in data.items() if k != "chat_id"}
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class _Redactor:
    """Scrubs secrets from every log record the process creates, before any handler sees it.

    A record factory rather than a handler filter: filters on a logger miss records propagated from
    its children (httpx logs request URLs, PTB logs its base URL, both holding the token), and
    handlers added later (pytest's, a deployment's) would need the filter too.
    """

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.installed = False

    def protect(self, secret: str) -> None:
        """Redact ``secret`` from now on; install the record factory on first use."""
        if len(secret) < 6:  # too short to redact without mangling ordinary words; too short to be a secret
            return
        self.secrets.add(secret)
        if not self.installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                self.scrub(record)
                return record

            logging.setLogRecordFactory(factory)
            self._install_crash_hooks()
            self.installed = True

    def _install_crash_hooks(self) -> None:
        """Uncaught exceptions print their traceback past logging: scrub those crash reports too.

        A report without a secret goes to the previous hook unchanged (a debugger's, pytest's)."""
        previous, previous_thread = sys.excepthook, threading.excepthook

        def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            if any(s in text for s in self.secrets):
                sys.stderr.write(self.redact(text))
            else:
                previous(exc_type, exc, tb)

        def thread_excepthook(args: threading.ExceptHookArgs) -> None:
            text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
            if args.exc_type is not SystemExit and any(s in text for s in self.secrets):
                name = args.thread.name if args.thread is not None else "?"
                sys.stderr.write(self.redact(f"Exception in thread {name}:\n{text}"))
            else:
                previous_thread(args)

        sys.excepthook = excepthook
        threading.excepthook = thread_excepthook

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in sorted(self.secrets, key=len, reverse=True):  # a whole token before its secret half
            text = text.replace(secret, "<redacted>")
        return text

    def scrub(self, record: logging.LogRecord) -> None:
        """Redact the message and any traceback of ``record`` in place."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return
        if any(s in message for s in self.secrets):
            record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if any(s in text for s in self.secrets):
                record.exc_text = self.redact(text)


# Logging is process-wide, so the redactor is too: one per process, whatever number of bots.
REDACTOR = _Redactor()


def protect_token(token: str) -> None:
    """Keep ``token`` (and its secret half) out of every log line from now on; any other secret too."""
    REDACTOR.protect(token)
    if ":" in token and len(token.split(":", 1)[1]) >= 8:
        REDACTOR.protect(token.split(":", 1)[1])


def quiet_http_logs() -> None:
    """httpx logs each request URL, token included, at INFO: keep it to warnings."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
