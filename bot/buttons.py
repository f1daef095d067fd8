"""The buttons: "More" and "Context" under answers, the pages of /sources; a button the bot does not
know is answered too, so a client never spins."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler

from index import NotFound

from . import render
from .handlers import question_of, search_and_reply
from .state import BriefContext, QuestionMemory

log = logging.getLogger(__name__)


async def more(update: Update, context: BriefContext) -> None:
    """The "More" button: the next passages for the same question."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, offset_text, key = query.data.split(":", 2)
    offset = min(int(offset_text), 1000)
    message = query.message
    origin = message.reply_to_message if isinstance(message, Message) else None
    question = None
    if origin is not None:  # the question the answer replied to, handed back by Telegram
        candidate = question_of(origin, context.bot.username)
        question = candidate if QuestionMemory.key(candidate) == key else None
    if question is None:  # the question was deleted: the bot's own memory
        question = await asyncio.to_thread(context.deps.questions.recall, key)
    if question is None or message is None:
        raise NotFound("I no longer have that question; please ask it again.")
    wait = context.deps.rate.wait(query.from_user.id)
    if wait:
        await query.answer(render.rate_limited(context.deps.settings.rate_limit, wait), show_alert=True)
        return
    reply_to = origin or (message if isinstance(message, Message) else None)
    await search_and_reply(context, question, offset, message.chat, reply_to, query.from_user.id)
    await query.answer()


async def show_context(update: Update, context: BriefContext) -> None:
    """The "Context" button: the text around one passage, as a reply to the answer."""
    query = update.callback_query
    assert query is not None and query.data is not None
    text, info = await asyncio.to_thread(context.deps.service.context, query.data.removeprefix("ctx:"))
    html = render.context_message(text, info)
    if isinstance(query.message, Message):
        await query.message.reply_text(html, do_quote=True)
    elif query.message is not None:
        await context.bot.send_message(query.message.chat.id, html)
    await query.answer()


async def stale_button(update: Update, context: BriefContext) -> None:
    """A button the bot does not know: answered, so the client stops its spinner, with what to do."""
    assert update.callback_query is not None
    log.info("unknown button data %r", (update.callback_query.data or "")[:64])
    await update.callback_query.answer(render.STALE_BUTTON, show_alert=True)


async def sources_page(update: Update, context: BriefContext) -> None:
    """The page buttons under /sources: edit the list in place."""
    query = update.callback_query
    assert query is not None and query.data is not None
    text, markup = render.sources_page(await asyncio.to_thread(context.deps.service.sources), int(query.data[4:]))
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # the same page pressed twice
        if "not modified" not in exc.message:
            raise
    await query.answer()


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the button handlers, the catch-all for unknown buttons last."""
    app.add_handler(CallbackQueryHandler(more, pattern=r"^more:\d{1,4}:[0-9a-f]{12}$"))
    app.add_handler(CallbackQueryHandler(show_context, pattern=r"^ctx:"))
    app.add_handler(CallbackQueryHandler(sources_page, pattern=r"^src:\d{1,5}$"))
    app.add_handler(CallbackQueryHandler(stale_button))  # anything else: an old version's, or forged
