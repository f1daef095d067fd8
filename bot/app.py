"""Build the Telegram application from settings and the index service, and run it (``briefbot serve``)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, ExtBot

from index import Briefbot, BriefbotError, Settings

from . import buttons, handlers
from .net import REDACTOR, FloodLimiter, RetryingRequest, protect_token, quiet_http_logs
from .state import BriefContext, Deps

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("ask", "Ask the reports a question"),
    BotCommand("sources", "Reports in the store, newest first"),
    BotCommand("help", "What I know and how to ask"),
    BotCommand("start", "Start here"),
]
ADMIN_COMMANDS = [
    BotCommand("add", "Add a document or URL to the store"),
    BotCommand("forget", "Remove a report by id"),
    BotCommand("stats", "Store and question figures"),
]
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CHANNEL_POST, Update.EDITED_CHANNEL_POST,
                   Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]


class BotConfigError(BriefbotError):
    """The bot cannot start as configured (no token, a rejected token, an unreachable API)."""


class QuietBot(ExtBot[int]):
    """PTB's bot, except that its repr (in tracebacks, crash reports, test output) omits the token."""

    __slots__ = ()

    def __repr__(self) -> str:
        """``QuietBot[username]`` rather than PTB's ``ExtBot[token=...]``."""
        name = self._bot_user.username if self._bot_user is not None else "not initialised"
        return f"{type(self).__name__}[{name}]"


@dataclass(frozen=True, slots=True)
class Network:
    """Timeouts, retries and waits towards the Bot API; tests shrink them, deployments keep the defaults."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    write_timeout: float = 30.0
    pool_timeout: float = 5.0
    pool_size: int = 32
    attempts: int = 4
    backoff: float = 0.5
    concurrent_updates: int = 32
    flood_retries: int = 3
    leave_grace: float = 5.0  # before leaving an unknown supergroup (bot/handlers.py leave_later)


def token_of(settings: Settings) -> str:
    """The configured token, or a clear refusal to start."""
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise BotConfigError("No Telegram bot token: set BRIEFBOT_TELEGRAM_TOKEN (from @BotFather) "
                             "in the environment or .env, then run `briefbot serve` again.")
    return token


def build_application(settings: Settings, service: Briefbot, *, network: Network | None = None) -> Application[
        Any, BriefContext, Any, Any, Any, Any]:
    """The application: Bot API URLs from settings, retries, flood limits, concurrency, handlers."""
    net = network or Network()
    token = token_of(settings)
    protect_token(token)
    api = settings.telegram_api_url.rstrip("/")
    request = RetryingRequest(attempts=net.attempts, backoff=net.backoff, connection_pool_size=net.pool_size,
                              connect_timeout=net.connect_timeout, read_timeout=net.read_timeout,
                              write_timeout=net.write_timeout, pool_timeout=net.pool_timeout)
    # getUpdates gets its own connection, so a long poll never waits behind replies (or vice versa).
    # It is retried like any idempotent call: a 5xx or a dropped poll is a warning here, not an
    # ERROR with a traceback from PTB's polling loop for every hiccup of the Bot API.
    updates_request = RetryingRequest(attempts=net.attempts, backoff=net.backoff, connection_pool_size=1,
                                      connect_timeout=net.connect_timeout, read_timeout=net.read_timeout,
                                      pool_timeout=net.pool_timeout)
    defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True),
                        allow_sending_without_reply=True)
    bot = QuietBot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot", request=request,
                   get_updates_request=updates_request, defaults=defaults,
                   rate_limiter=FloodLimiter(max_retries=net.flood_retries))
    app = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(net.concurrent_updates)
        .context_types(ContextTypes(context=BriefContext))
        .post_init(post_init)
        .build()
    )
    app.bot_data["deps"] = Deps.build(settings, service, leave_grace=net.leave_grace)
    handlers.register(app)
    buttons.register(app)  # after handlers: they import from it
    return app


async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the commands so Telegram lists them; admins also see theirs in their private chat."""
    deps: Deps = app.bot_data["deps"]
    try:
        await app.bot.set_my_commands(COMMANDS)
    except TelegramError as exc:  # a menu is a convenience: never a reason not to start
        log.warning("commands not registered: %s", exc)
    for admin in deps.settings.admins:
        try:
            await app.bot.set_my_commands(COMMANDS + ADMIN_COMMANDS, scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # the admin has not opened a chat with the bot yet
            log.info("admin commands not set for %s: %s", admin, exc)
    if not deps.gate.configured:
        log.warning("no allow-lists are set (BRIEFBOT_ALLOWED_CHATS, _ALLOWED_USERS, _ADMINS): "
                    "everyone is turned away")


def webhook_secret(settings: Settings, token: str) -> str:
    """The configured secret, else one derived from the token: every process behind a balancer agrees."""
    if settings.webhook_secret and settings.webhook_secret.get_secret_value():
        return settings.webhook_secret.get_secret_value()
    return hashlib.sha256(b"briefbot-webhook:" + token.encode()).hexdigest()


def warm_up(service: Briefbot) -> None:
    """Load the embedding model now, so the first question is not the one that waits ~5 s for it."""
    try:
        service.warm_up()
    except Exception:  # the first question will report whatever is wrong, to the user and the log
        log.warning("model warm-up failed", exc_info=True)


def run(settings: Settings) -> None:
    """``briefbot serve``: long polling, or a webhook server when ``webhook_url`` is set."""
    token = token_of(settings)
    protect_token(token)
    quiet_http_logs()
    logging.getLogger("bot").setLevel(logging.INFO)  # the one-line-per-question log
    service = Briefbot(settings)
    warm_up(service)
    app = build_application(settings, service)
    try:
        if settings.webhook_url:
            path = urlsplit(settings.webhook_url).path.strip("/") or "telegram"
            secret = webhook_secret(settings, token)
            protect_token(secret)
            log.info("webhook mode on %s:%d", settings.webhook_listen, settings.webhook_port)
            app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port, url_path=path,
                            webhook_url=settings.webhook_url, secret_token=secret,
                            allowed_updates=ALLOWED_UPDATES)
        else:
            log.info("long polling %s", settings.telegram_api_url)
            app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken as exc:
        raise BotConfigError("The Bot API rejected the token; check BRIEFBOT_TELEGRAM_TOKEN.") from exc
    except NetworkError as exc:
        raise BotConfigError(f"Cannot reach the Bot API at {settings.telegram_api_url}: "
                             f"{type(exc).__name__}") from exc
    except TelegramError as exc:  # 403, 409 (another instance is polling), ...: the API said no
        reason = " ".join(REDACTOR.redact(exc.message).split())[:200]
        raise BotConfigError(f"The Bot API refused to start the bot ({type(exc).__name__}: {reason})") from None
