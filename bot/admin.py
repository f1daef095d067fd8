"""Admin commands: /add a document or URLs (with a live status message), /forget, /stats."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from telegram import Chat, Document, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from index import BriefbotError, IngestItem, IngestProgress

from . import render
from .state import BriefContext

log = logging.getLogger(__name__)
T = TypeVar("T")
ADD_CAPTION = re.compile(r"^/add(@\w+)?(\s|$)", re.IGNORECASE)
EDIT_EVERY = 1.0  # seconds between progress edits of a status message in a private chat
GROUP_EDIT_EVERY = 6.0  # and in a group or channel: at most 10 of the group's 20 messages a minute
USAGE = ("Send a document (pdf, txt, md, html, docx) with the caption /add, reply /add to one, "
         "or send /add followed by URLs.")


class Status:
    """A status message edited as an ingest progresses, at most once per ``every`` seconds."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.shown = message.text_html or ""
        self.last = 0.0
        # Edits count toward Telegram's flood limits, a group's being 20 messages a minute for all.
        self.every = EDIT_EVERY if message.chat.type == Chat.PRIVATE else GROUP_EDIT_EVERY
        self._editing = asyncio.Lock()
        self._asked = 0  # edits asked for so far

    async def show(self, text: str, *, final: bool = False) -> None:
        """Edit the message to ``text``, one edit at a time and in order; a progress edit is skipped
        when too soon or when a newer status is waiting, and its failure only logged."""
        self._asked += 1
        mine = self._asked
        async with self._editing:  # FIFO: edits reach Telegram in the order they were asked for
            if text == self.shown or (not final and (mine != self._asked or time.monotonic() - self.last < self.every)):
                return
            self.shown, self.last = text, time.monotonic()
            try:
                await self.message.edit_text(text)
            except TelegramError as exc:
                if final:
                    raise
                log.warning("status edit failed: %s", exc)

    async def follow(self, ingest: Callable[..., T], *args: Any) -> T:
        """``ingest(*args, progress=...)`` in a thread, each step it reports becomes an edit; returns once
        those edits have landed, so none comes after the final one."""
        loop = asyncio.get_running_loop()
        pending: list[concurrent.futures.Future[None]] = []

        def progress(step: IngestProgress) -> None:  # called from the ingest thread
            if (text := render.ingest_progress(step)) is not None:
                pending.append(asyncio.run_coroutine_threadsafe(self.show(text), loop))

        try:
            return await asyncio.to_thread(ingest, *args, progress=progress)
        finally:
            for future in pending:
                await asyncio.wrap_future(future)


async def admin_only(update: Update, context: BriefContext) -> bool:
    """True for admins; others are told, in one line, that they cannot."""
    if context.deps.gate.is_admin(update.effective_user):
        return True
    if update.effective_message is not None:
        await update.effective_message.reply_text(render.NOT_ADMIN, do_quote=True)
    return False


def safe_name(name: str | None) -> str:
    """A file name with no directories or control characters (it only ever labels bytes)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip(" .") or "document"
    return base[:120]


async def add(update: Update, context: BriefContext) -> None:
    """/add: a document (sent with the caption /add, replied to, or sent privately) or URLs; admins only."""
    message = update.effective_message
    assert message is not None
    raw = message.text or message.caption or ""
    if (named := ADD_CAPTION.match(raw)) and named.group(1) and named.group(1)[1:].lower() != (
            context.bot.username or "").lower():
        return  # a caption "/add@another_bot": not ours (a text command to another bot never gets here)
    if not await admin_only(update, context):
        return
    words = ADD_CAPTION.sub("", raw).split() if ADD_CAPTION.match(raw) else []  # a plain caption is no command
    urls = [w for w in words if w.lower().startswith(("http://", "https://"))]
    other = [w for w in words if w not in urls]
    reply = message.reply_to_message
    document = message.document or (reply.document if reply is not None else None)
    if document is None and not urls:
        await message.reply_text(USAGE, do_quote=True)
        return
    status = Status(await message.reply_text("Adding…", do_quote=True))
    items = [IngestItem(w, "failed", reason=f"{w}: not a URL; only http(s) URLs can be added") for w in other]
    try:
        if document is not None:
            items.append(await add_document(context, document, status))
        if urls:
            items.extend(await add_urls(context, urls, status))
    except BriefbotError as exc:  # the store is busy or away: the status says so, in one line
        items.append(IngestItem("store", "failed", reason=render.reason(str(exc))))
    await status.show(render.ingest_report(items), final=True)
    log.info("add chat=%s user=%s %s", message.chat.id, update.effective_user.id if update.effective_user else "-",
             " ".join(f"{i.status}:{i.report_id or '-'}" for i in items))


async def add_document(context: BriefContext, document: Document, status: Status) -> IngestItem:
    """Download one document through getFile (size-checked first) and ingest its bytes."""
    deps = context.deps
    name = safe_name(document.file_name)
    if too_big := deps.gate.upload_too_big(document.file_size):
        return IngestItem(name, "failed", reason=f"{name}: {too_big}")
    await status.show(f"Downloading {render.esc(name)}…", final=True)
    try:
        tg_file = await context.bot.get_file(document.file_id)
        data = bytes(await tg_file.download_as_bytearray(read_timeout=120))
    except TelegramError as exc:
        log.warning("download of %s failed: %s", name, exc)
        return IngestItem(name, "failed", reason=f"{name}: the download from Telegram failed; please try again")
    if too_big := deps.gate.upload_too_big(len(data)):
        return IngestItem(name, "failed", reason=f"{name}: {too_big}")
    await status.show(f"Reading and indexing {render.esc(name)} ({len(data) / 1e6:.1f} MB)…", final=True)
    # Keyed by Telegram's id for the file's content: the same file sent twice is "unchanged".
    key = f"telegram:{document.file_unique_id}/{name}"
    return await status.follow(deps.service.ingest_bytes, data, name, key)


async def add_urls(context: BriefContext, urls: list[str], status: Status) -> list[IngestItem]:
    """Fetch and ingest URLs, the status message following the index's progress callback."""
    return (await status.follow(context.deps.service.ingest, urls)).items


async def forget(update: Update, context: BriefContext) -> None:
    """/forget <id>: remove a report from the store; admins only."""
    if not await admin_only(update, context):
        return
    message = update.effective_message
    assert message is not None
    ref = " ".join(context.args or []).strip()
    if not ref:
        await message.reply_text(render.esc("Say which report: /forget <id> (ids are in /sources)."), do_quote=True)
        return
    info = await asyncio.to_thread(context.deps.service.forget, ref)
    log.info("forget chat=%s report=%s", message.chat.id, info.report_id)
    await message.reply_text(render.forgotten(info), do_quote=True)


async def stats(update: Update, context: BriefContext) -> None:
    """/stats: reports, chunks, questions answered and refused, median latency; admins only."""
    if not await admin_only(update, context):
        return
    message = update.effective_message
    assert message is not None
    await message.reply_text(render.stats_message(await asyncio.to_thread(context.deps.service.stats)))


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the admin handlers."""
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("add", add, filters=only_new))
    app.add_handler(CommandHandler("forget", forget, filters=only_new))
    app.add_handler(CommandHandler("stats", stats, filters=only_new))
    captioned = filters.CaptionRegex(ADD_CAPTION)
    app.add_handler(MessageHandler(only_new & filters.Document.ALL & (captioned | filters.ChatType.PRIVATE), add))
