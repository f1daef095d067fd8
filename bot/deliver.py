"""Sending an answer's messages: new ones, or the old answer's edited into it (its question was edited)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Chat, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, ChatMigrated, TelegramError

from .state import BriefContext

log = logging.getLogger(__name__)


async def deliver(context: BriefContext, chat: Chat, reply_to: Message | None, parts: list[str],
                  markup: InlineKeyboardMarkup | None, replace: Sequence[int]) -> list[int]:
    """Send ``parts`` (the keyboard under the last), editing the old answer's messages where there are
    some: the first parts into them, the rest sent after, and old messages left over deleted."""
    ids: list[int] = []
    chat_id = chat.id
    editing = list(replace)
    for i, part in enumerate(parts):
        keyboard = markup if i == len(parts) - 1 else None
        if editing:
            old = editing.pop(0)
            if await edited_into(context, chat.id, old, part, keyboard):
                ids.append(old)
                continue
            editing = []  # the old answer is gone or frozen: the rest goes out anew, in order
        try:
            if reply_to is not None:
                sent = await reply_to.reply_text(part, do_quote=True, reply_markup=keyboard)
            else:
                sent = await context.bot.send_message(chat_id, part, reply_markup=keyboard)
        except ChatMigrated as exc:  # asked just before the group became a supergroup: answer it there
            if not context.deps.follow(chat_id, exc.new_chat_id):
                raise
            chat_id, reply_to = exc.new_chat_id, None  # the question's id there is not the one it had
            sent = await context.bot.send_message(chat_id, part, reply_markup=keyboard)
        ids.append(sent.message_id)
    for old in replace[len(parts):]:
        try:
            await context.bot.delete_message(chat.id, old)
        except TelegramError as exc:  # over 48 hours old, or deleted already: left as it is
            log.info("old answer part chat=%s message=%s not deleted: %s", chat.id, old, exc)
    return ids


async def edited_into(context: BriefContext, chat_id: int, message_id: int, html: str,
                      keyboard: InlineKeyboardMarkup | None) -> bool:
    """Edit one old answer message into ``html``; False when Telegram won't (it was deleted, say)."""
    try:
        await context.bot.edit_message_text(html, chat_id=chat_id, message_id=message_id, reply_markup=keyboard)
    except BadRequest as exc:
        if "not modified" in exc.message:  # the same answer as before: nothing to change
            return True
        log.info("old answer chat=%s message=%s not edited (%s): sent anew", chat_id, message_id, exc.message)
        return False
    return True
