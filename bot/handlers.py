"""Update handlers: each translates one kind of update into index calls and rendered replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram import Chat, Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import Forbidden, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from index import BriefbotError, StoreUnavailable

from . import admin, render
from .access import Verdict
from .deliver import deliver
from .state import BriefContext

log = logging.getLogger(__name__)
TYPING_EVERY = 4.5  # Telegram shows "typing…" for 5 s per chat action
ASK_ME = f"Ask me a question, e.g. “{render.esc(render.EXAMPLES[0])}”"
_ASK = re.compile(r"^/ask(@\w+)?(\s+|$)", re.IGNORECASE)
ONLY_NEW = filters.UpdateType.MESSAGE  # edits go to `edited`: a question edited is asked again
PICTURE_CAPTION = filters.CAPTION & ~filters.Document.ALL  # a captioned document goes to /add instead
_LINKS_ONLY = re.compile(r"(?:\s*https?://\S+)+\s*", re.IGNORECASE)
# Small talk that is no question: answered in kind, not with "the reports don't say".
_GREETING = re.compile(r"(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|greetings)(?: there| all| bot)?")
_THANKS = re.compile(r"(?:thanks?|thank you|thx|ty|cheers|ok|okay|great|cool|nice|got it|perfect)(?: a lot| so much)?")


def wordless(question: str) -> bool:
    """True for a "question" without a word in it: nothing, a bare mention, "?", an emoji."""
    return not any(ch.isalnum() for ch in question)


def question_of(message: Message, username: str | None) -> str:
    """The question in a message: its text without a leading /ask or mentions of the bot."""
    text = _ASK.sub("", (message.text or message.caption or "").strip(), count=1)
    if username:
        text = re.sub(rf"(?<![\w@])@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def addressed(message: Message, bot_id: int, username: str | None) -> bool:
    """True when a group message mentions the bot or replies to it."""
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        return True
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    mentions = message.parse_entities(kinds) if message.text else message.parse_caption_entities(kinds)
    return any((e.user is not None and e.user.id == bot_id) or (username and text.lower() == f"@{username.lower()}")
               for e, text in mentions.items())


def small_talk(question: str) -> str | None:
    """The reply to a greeting or a thank-you, which is no question; None for anything else."""
    said = " ".join(re.sub(r"[^\w\s]", " ", question.lower()).split())
    if _GREETING.fullmatch(said):
        return render.HELLO
    return render.WELCOME if _THANKS.fullmatch(said) else None


@contextlib.asynccontextmanager
async def typing(context: BriefContext, chat_id: int, thread_id: int | None = None) -> AsyncIterator[None]:
    """Show "typing…" (in the question's forum topic, if any) while the body runs."""
    stop = asyncio.Event()

    async def keep_typing() -> None:
        while not stop.is_set():
            try:
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread_id)
            except TelegramError:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        stop.set()
        # Let an action already on the wire land first: one arriving after the reply would show
        # "typing…" under the answer for five seconds.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 2.0)


async def search_and_reply(context: BriefContext, question: str, offset: int, chat: Chat,
                           reply_to: Message | None, user_id: int | None, replace: Sequence[int] = ()) -> list[int]:
    """Search off the event loop, render, send (or edit the messages in ``replace`` into the answer);
    one log line per question. Returns the ids of the answer's messages."""
    deps = context.deps
    k = deps.settings.top_k
    t0 = time.perf_counter()
    thread = reply_to.message_thread_id if reply_to is not None and reply_to.is_topic_message else None
    async with typing(context, chat.id, thread):
        answer = await asyncio.to_thread(deps.service.ask, question, k=k, offset=offset)
    key = await asyncio.to_thread(deps.questions.remember, answer.question) if answer.answered else ""
    parts = render.answer_messages(answer, offset)
    markup = render.answer_keyboard(answer, offset, key, k)
    ids = await deliver(context, chat, reply_to, parts, markup, replace)
    log.info("question chat=%s user=%s offset=%d%s answered=%s ms=%.0f search_ms=%.0f reports=%s",
             chat.id, user_id if user_id is not None else "-", offset, " edited" if replace else "", answer.answered,
             (time.perf_counter() - t0) * 1000, answer.took_ms,
             ",".join(dict.fromkeys(p.report_id for p in answer.passages)) or "-")
    return ids


async def answer_question(update: Update, context: BriefContext, question: str, message: Message) -> None:
    """Rate-limit, then answer ``question`` as a reply to ``message``; when the bot answered that
    message before (it has been edited since), edit that answer instead, unless the question is the same."""
    deps = context.deps
    user = update.effective_user
    chat_id, message_id = message.chat.id, message.message_id
    async with deps.answers.turn(chat_id, message_id):
        edit = update.edited_message is not None or update.edited_channel_post is not None
        before = await asyncio.to_thread(deps.answers.recall, chat_id, message_id) if edit else None
        if before is not None and before.question == question:  # an edit that left the question as it was
            return
        # Anonymous admins and channels speak as one shared bot user: their chat is who asks.
        wait = deps.rate.wait(message.sender_chat.id if message.sender_chat else user.id if user else chat_id)
        if wait:
            log.info("question chat=%s user=%s rate-limited", chat_id, user.id if user else "-")
            await message.reply_text(render.rate_limited(deps.settings.rate_limit, wait), do_quote=True)
            return
        ids = await search_and_reply(context, question, 0, message.chat, message, user.id if user else None,
                                     replace=before.messages if before is not None else ())
        await asyncio.to_thread(deps.answers.remember, chat_id, message_id, question, ids)


async def gate(update: Update, context: BriefContext) -> None:
    """Before every handler: serve, tell a stranger (now and then), or stay silent and maybe leave."""
    deps = context.deps
    message = update.message
    if message is not None and message.migrate_to_chat_id:  # in the old group; the new id follows
        deps.follow(message.chat.id, message.migrate_to_chat_id)
    elif message is not None and message.migrate_from_chat_id:  # in the new supergroup
        deps.follow(message.migrate_from_chat_id, message.chat.id)
    verdict = deps.gate.verdict(update)
    if verdict is Verdict.SERVE:
        return
    chat, user = update.effective_chat, update.effective_user
    log.info("turned away chat=%s user=%s (%s)", chat.id if chat else "-", user.id if user else "-", verdict.value)
    with contextlib.suppress(TelegramError):
        if verdict is Verdict.REFUSE and user is not None:
            stranger = render.STRANGER.format(user_id=user.id)
            if update.callback_query is not None:
                await update.callback_query.answer(stranger, show_alert=True)
            elif update.message is not None and not deps.strangers.wait(user.id):
                await update.message.reply_text(stranger)
        if verdict is Verdict.LEAVE and chat is not None and chat.id not in deps.leaving:
            if chat.type == Chat.SUPERGROUP:  # maybe an allowed group just upgraded, its move not yet seen
                deps.leaving.add(chat.id)
                context.application.create_task(leave_later(context, chat.id), update=update)
            else:
                await context.bot.leave_chat(chat.id)
    raise ApplicationHandlerStop


async def leave_later(context: BriefContext, chat_id: int) -> None:
    """Leave an unknown supergroup after a grace period, unless it turned out to be an allowed group's new
    id: Telegram announces the bot's joining the new supergroup and the move itself in updates of their own,
    in no set order."""
    deps = context.deps
    try:
        await asyncio.sleep(deps.leave_grace)
        if chat_id not in deps.gate.chats:
            with contextlib.suppress(TelegramError):
                await context.bot.leave_chat(chat_id)
    finally:
        deps.leaving.discard(chat_id)


async def start(update: Update, context: BriefContext) -> None:
    """/start: what the bot is, what it knows, how to ask."""
    await help_command(update, context)


async def help_command(update: Update, context: BriefContext) -> None:
    """/help: the number of reports, the newest ones, example questions."""
    deps = context.deps
    reports = await asyncio.to_thread(deps.service.sources)
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    text = render.help_message(reports, admin=deps.gate.is_admin(update.effective_user), group=chat.type != Chat.PRIVATE)
    await message.reply_text(text)


async def ask(update: Update, context: BriefContext) -> None:
    """/ask <question>, in any served chat; /ask as a reply asks the replied-to message."""
    message = update.effective_message
    assert message is not None
    question = question_of(message, context.bot.username)
    origin = message.reply_to_message
    if not question and origin is not None and not (origin.from_user and origin.from_user.id == context.bot.id):
        question = question_of(origin, context.bot.username)  # not the bot's own answer, asked back at it
    if wordless(question):
        await message.reply_text(f"Ask like this: /ask {render.esc(render.EXAMPLES[0])}")
        return
    await answer_question(update, context, question, message)


async def private_text(update: Update, context: BriefContext) -> None:
    """Any text in a private chat is a question; a link alone is not (an admin is shown /add), nor
    is a greeting or a thank-you."""
    message = update.effective_message
    assert message is not None
    question = question_of(message, context.bot.username)
    if _LINKS_ONLY.fullmatch(question):
        admin = context.deps.gate.is_admin(update.effective_user)
        await message.reply_text(render.LINK_ADMIN if admin else render.LINK_ONLY, do_quote=True)
    elif reply := small_talk(question):
        await message.reply_text(reply)
    elif wordless(question):  # a bare mention, "?", an emoji
        await message.reply_text(ASK_ME, do_quote=True)
    else:
        await answer_question(update, context, question, message)


async def group_text(update: Update, context: BriefContext) -> None:
    """In groups, answer only messages that mention the bot or reply to it."""
    message = update.effective_message
    assert message is not None
    if message.is_automatic_forward or not addressed(message, context.bot.id, context.bot.username):
        return
    question = question_of(message, context.bot.username)
    if reply := small_talk(question):
        await message.reply_text(reply, do_quote=True)
    elif wordless(question):
        await message.reply_text(ASK_ME, do_quote=True)
    else:
        await answer_question(update, context, question, message)


async def channel_post(update: Update, context: BriefContext) -> None:
    """A Q&A-channel post (or a picture's caption there) that asks something (a "?", /ask or a mention)
    gets a reply."""
    post = update.channel_post
    text = post.text or post.caption if post is not None else None  # a picture's caption asks too
    if post is not None and text and post_asks(text, context.bot.username) and (
            question := question_of(post, context.bot.username)):
        await answer_question(update, context, question, post)


def post_asks(text: str, username: str | None) -> bool:
    """A channel post asks the bot something: it has a "?", is /ask or mentions the bot; a command
    (/forget@bot ...) does not."""
    if text.startswith("/"):
        return asks_bot(text, username)
    return "?" in text or bool(username) and f"@{username}".lower() in text.lower()


def asks_bot(text: str, username: str | None) -> bool:
    """``text`` is /ask, or /ask@ this bot (not another one)."""
    command = _ASK.match(text)
    return command is not None and (not command.group(1) or command.group(1)[1:].lower() == (username or "").lower())


async def edited(update: Update, context: BriefContext) -> None:
    """An edited message that asks something, read as the same message new would be: its answer
    follows the edit (the old one edited in place; a new reply when there was none)."""
    message = update.effective_message
    if message is None or message.is_automatic_forward:
        return
    caption = message.text is None  # a picture's caption: asked in a private chat when it has a "?"
    text, username = message.text or message.caption or "", context.bot.username
    if not text:
        return
    if message.chat.type == Chat.CHANNEL:
        asks = post_asks(text, username)
    elif text.startswith("/"):  # other commands run only as sent
        asks = asks_bot(text, username)
    elif message.chat.type == Chat.PRIVATE:
        asks = not caption or "?" in text
    else:
        asks = addressed(message, context.bot.id, username)
    question = question_of(message, username) if asks else ""
    if question and not _LINKS_ONLY.fullmatch(question) and small_talk(question) is None:
        await answer_question(update, context, question, message)


async def not_text(update: Update, context: BriefContext) -> None:
    """A photo, sticker, voice note or the like in a private chat: say what the bot reads; one whose
    caption asks a question (a screenshot: "What does ISW say about this?") gets that answered."""
    message = update.effective_message
    if message is None:
        return
    question = question_of(message, context.bot.username)
    if "?" in question and small_talk(question) is None:
        await answer_question(update, context, question, message)
    else:
        await message.reply_text(render.TEXT_ONLY, do_quote=True)


async def group_caption(update: Update, context: BriefContext) -> None:
    """A photo or the like in a group, captioned with a question to the bot (a mention, a reply to it, or
    /ask): the caption is answered."""
    message = update.effective_message
    assert message is not None
    username, caption = context.bot.username, message.caption or ""
    if caption.startswith("/"):  # a command: only /ask (this bot's) is read from a caption
        if not asks_bot(caption, username):
            return
    elif message.is_automatic_forward or not addressed(message, context.bot.id, username):
        return
    question = question_of(message, username)
    if wordless(question):
        await message.reply_text(ASK_ME, do_quote=True)
    else:
        await answer_question(update, context, question, message)


async def unknown_command(update: Update, context: BriefContext) -> None:
    """A command the bot does not have, in a private chat."""
    if update.effective_message is not None:
        await update.effective_message.reply_text("I don't know that command; see /help.")


async def sources(update: Update, context: BriefContext) -> None:
    """/sources: the reports in the store, newest first, paged with buttons."""
    message = update.effective_message
    assert message is not None
    text, markup = render.sources_page(await asyncio.to_thread(context.deps.service.sources), 0)
    await message.reply_text(text, reply_markup=markup)


async def on_error(update: object, context: BriefContext) -> None:
    """BriefbotError: its one-line reason; Telegram errors: logged; anything else: logged, and an apology."""
    err = context.error
    uid = update.update_id if isinstance(update, Update) else "-"
    if isinstance(err, StoreUnavailable):
        log.warning("store unavailable on update %s: %s", uid, err, exc_info=err)  # with its cause: a bug shows here too
        text = render.STORE_DOWN
    elif isinstance(err, BriefbotError):
        text = render.reason(str(err))
    elif isinstance(err, TelegramError):
        # No reply: the failed call may have been the reply, and another send would fail the same way.
        hint = " (not resent: it may have been delivered)" if isinstance(err, TimedOut) else ""
        # A user who blocked the bot, or a chat that is gone, is routine: one line, no traceback.
        log.warning("Telegram call failed on update %s%s: %s", uid, hint, err,
                    exc_info=None if isinstance(err, Forbidden) else err)
        return
    else:
        log.error("unexpected error on update %s", uid, exc_info=err)
        text = render.APOLOGY
    if isinstance(update, Update):
        await tell(update, text)


async def tell(update: Update, text: str) -> None:
    """A plain one-line reply: a toast for a button press, else a reply to the message."""
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(render.esc(text), do_quote=True)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the gate first, then commands, chats, channels and errors (the buttons: ``buttons.register``)."""
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(CommandHandler("start", start, filters=ONLY_NEW))
    app.add_handler(CommandHandler("help", help_command, filters=ONLY_NEW))
    app.add_handler(CommandHandler("ask", ask, filters=ONLY_NEW))
    app.add_handler(CommandHandler("sources", sources, filters=ONLY_NEW))
    admin.register(app)
    private = ONLY_NEW & filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(ONLY_NEW & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, group_text))
    app.add_handler(MessageHandler(ONLY_NEW & filters.ChatType.GROUPS & PICTURE_CAPTION, group_caption))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST & (filters.TEXT | PICTURE_CAPTION), channel_post))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED & (filters.TEXT | PICTURE_CAPTION), edited))
    app.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
    # Last among messages: documents go to /add above, which tells a non-admin why not.
    app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, not_text))
    app.add_error_handler(on_error)
