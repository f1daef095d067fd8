"""Pure rendering: answers, context, sources and ingest results as Telegram HTML under 4,096 characters.

Every piece of report text, title, URL, question or error passes through ``html.escape`` here and
nowhere else; the only tags in the output are the ones written in this module.
"""

from __future__ import annotations

import calendar
import datetime
import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index import EMPTY as STORE_EMPTY
from index import Answer, IngestItem, IngestProgress, IngestSummary, Passage, ReportInfo

LIMIT = 4096
# Budgets count UTF-16 units of the HTML *source*, which is never shorter than the text Telegram
# counts after parsing, so a message within budget is within Telegram's limit whatever it contains.
QUOTE_BUDGET = 1600
SIDE_BUDGET = 280  # surrounding text shown before and after the quote
TITLE_BUDGET = 300
URL_BUDGET = 1200
CALLBACK_BYTES = 64  # Telegram's limit on callback_data
PER_PAGE = 8  # reports per /sources page

STORE_DOWN = "I can't search the reports right now; please try again in a minute."
APOLOGY = "Sorry, something went wrong on my side. The error is logged; please try again."
TEXT_ONLY = "I read questions sent as text, e.g. “What did Xi commit to?”; /help says more."
STRANGER = "This is a private briefing bot. Ask an admin to add your user id {user_id} to the allow-list."
NOT_ADMIN = "Only admins can do that."
LINK_ONLY = "A link alone is not a question: ask in words, e.g. “What did Xi commit to?”"
LINK_ADMIN = "To add that page to the store, send /add followed by the link."
HELLO = "Hello! Ask me about the reports, e.g. “What's new?” or “What did Xi commit to?”; /help says more."
WELCOME = "Glad to help. Ask another question any time."
STALE_BUTTON = "That button no longer works; please ask your question again."
EMPTY = "The store holds no reports yet, so there is nothing to answer from: an admin adds them with /add."
EXAMPLES = ("What did Xi commit to?", "What did ISW assess about Russian offensive operations near Bakhmut?",
            "What is the latest on Kherson?", "Which measures did Putin announce in the energy sector?")

_JUNK = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff\ufff9-\ufffb]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SAFE_URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f\x7f]+\Z")
# UTF-16 units of the characters html.escape widens (as ``&amp;``, ``&lt;``, ``&gt;``).
_ESCAPED_UNITS = {"&": 5, "<": 4, ">": 4}


def units(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str) -> str:
    """Text safe to send: no control characters, lone surrogates or byte-order marks."""
    return _SURROGATE.sub("\ufffd", _JUNK.sub(" ", text))


def squash(text: str) -> str:
    """Whitespace runs (newlines included) as single spaces, keeping one at either edge."""
    return re.sub(r"\s+", " ", clean(text))


def esc(text: str) -> str:
    """Escaped for Telegram HTML text."""
    return html.escape(clean(text), quote=False)


def clip(text: str, budget: int, *, keep_end: bool = False) -> str:
    """``text`` escaped within ``budget`` units, cut at a word with an ellipsis if it is too long."""
    full = esc(text)
    if units(full) <= budget:
        return full
    # Every character takes at least one unit, so no more than ``budget`` of them can fit. ``clean``
    # maps character to character, so cleaning the slice is cleaning the text.
    chars = clean(text[-budget:] if keep_end else text[:budget])
    if keep_end:
        chars = chars[::-1]
    used, n = 1, 0  # 1: the ellipsis
    for ch in chars:
        used += _ESCAPED_UNITS.get(ch, 1 if ch < "\U00010000" else 2)
        if used > budget:
            break
        n += 1
    # Back off to a word boundary when one is near, so a cut never splits a word mid-way.
    space = next((i for i in range(n - 1, int(n * 0.7), -1) if chars[i].isspace()), None)  # the last one
    kept = chars[:space if space is not None else n]
    if keep_end:
        return "…" + html.escape(kept[::-1], quote=False)
    return html.escape(kept, quote=False) + "…"


def link(title: str, url: str | None) -> str:
    """The escaped title, linked to ``url`` when it is a plain http(s) URL."""
    text = clip(squash(title).strip() or "untitled report", TITLE_BUDGET)
    if url and _SAFE_URL.match(url):
        href = html.escape(url, quote=True)
        if units(href) <= URL_BUDGET:
            return f'<a href="{href}">{text}</a>'
    return text


def cite(title: str, date: str | None, url: str | None, page: int | None = None) -> str:
    """"— title, date, p. N" with the title linked; the date only when the title does not name it
    ("Russian Offensive Campaign Assessment, March 21, 2023" needs no ", 2023-03-21")."""
    shown = "" if not date or dated_by(title, date) else clip(squash(date).strip(), 40)
    extra = [shown, f"p. {page}" if page else ""]
    return "— " + ", ".join([link(title, url), *[e for e in extra if e]])


def dated_by(title: str, date: str) -> bool:
    """True when ``title`` names the YYYY-MM-DD ``date``: "March 21, 2023", "21 March 2023", "2023-03-21"."""
    try:
        day = datetime.date.fromisoformat(date[:10])
    except ValueError:
        return False
    month = calendar.month_name[day.month]
    forms = (day.isoformat(), f"{month} {day.day}, {day.year}", f"{day.day} {month} {day.year}")
    folded = squash(title).casefold()
    return any(form.casefold() in folded for form in forms)


def passage_block(n: int, p: Passage) -> str:
    """One numbered passage: a little text before, the quote in bold, a little after, then the citation."""
    lo = min(max(p.quote_start - p.start, 0), len(p.text))
    hi = min(max(p.quote_end - p.start, lo), len(p.text))
    before, quote, after = p.text[:lo], p.text[lo:hi], p.text[hi:]
    if not quote.strip():  # offsets out of step with the text: show the quote field as is
        before, quote, after = "", p.quote, ""
    quote_html = clip(squash(quote).strip(), QUOTE_BUDGET)
    body = clip(squash(before).lstrip(), SIDE_BUDGET, keep_end=True)
    body += f"<b>{quote_html}</b>" if quote_html else ""
    body += clip(squash(after).rstrip(), SIDE_BUDGET)
    return f"<b>{n}.</b> {body}\n{cite(p.title, p.date, p.url, p.page)}"


def pack(blocks: Iterable[str], sep: str = "\n\n", limit: int = LIMIT) -> list[str]:
    """Blocks joined into as few messages as fit under ``limit``; a split falls only between blocks."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if units(block) > limit:  # cannot happen with the budgets above; never send it anyway
            block = clip(re.sub(r"<[^>]*>", "", html.unescape(block)), limit)
        joined = f"{current}{sep}{block}" if current else block
        if units(joined) <= limit:
            current = joined
        else:
            messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def answer_messages(answer: Answer, offset: int = 0) -> list[str]:
    """The answer as one or more HTML messages; the refusal (or "no more") as one line."""
    if not answer.answered or not answer.passages:
        return [esc(EMPTY if answer.message == STORE_EMPTY else answer.message)]
    blocks = [passage_block(offset + i + 1, p) for i, p in enumerate(answer.passages)]
    if note := clip(squash(answer.note).strip(), TITLE_BUDGET + 200):  # a digest's note holds a report title
        blocks.insert(0, f"<i>{note}</i>")
    return pack(blocks)


def answer_keyboard(answer: Answer, offset: int, key: str, k: int) -> InlineKeyboardMarkup | None:
    """"Context n" for each passage shown, and "More" when a full page came back."""
    if not answer.answered or not answer.passages:
        return None
    buttons = [InlineKeyboardButton(f"Context {offset + i + 1}", callback_data=f"ctx:{p.chunk_id}")
               for i, p in enumerate(answer.passages)
               if p.chunk_id and len(f"ctx:{p.chunk_id}".encode()) <= CALLBACK_BYTES]
    rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    more = f"more:{offset + len(answer.passages)}:{key}"
    if len(answer.passages) >= k and len(more.encode()) <= CALLBACK_BYTES:
        rows.append([InlineKeyboardButton("More", callback_data=more)])
    return InlineKeyboardMarkup(rows) if rows else None


def context_message(text: str, info: ReportInfo) -> str:
    """The paragraph(s) around a passage, under the report's citation."""
    head = f"<b>Context</b> {cite(info.title, info.date, info.url)}\n\n"
    paragraphs = [squash(p).strip() for p in re.split(r"\n\s*\n", clean(text))]
    body = "\n\n".join(p for p in paragraphs if p) or "(empty)"
    return head + clip(body, LIMIT - units(head))


def sources_page(reports: Sequence[ReportInfo], page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the store's reports, newest first, with buttons to the neighbouring pages."""
    if not reports:
        return "The store is empty. An admin can add reports with /add.", None
    pages = (len(reports) + PER_PAGE - 1) // PER_PAGE
    page = min(max(page, 0), pages - 1)
    lines = [f"<b>{plural(len(reports), 'report')}</b>, newest first — page {page + 1} of {pages}"]
    for r in reports[page * PER_PAGE:(page + 1) * PER_PAGE]:
        date = clip(squash(r.date or "undated").strip(), 40)
        lines.append(f"<code>{esc(r.report_id[:40])}</code> {date} — {clip(squash(r.title).strip(), 250)} "
                     f"({plural(r.chunks, 'chunk')})")
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹ Newer", callback_data=f"src:{page - 1}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("Older ›", callback_data=f"src:{page + 1}"))
    return pack(lines, sep="\n")[0], InlineKeyboardMarkup([nav]) if nav else None


def help_message(reports: Sequence[ReportInfo], *, admin: bool, group: bool) -> str:
    """What the bot knows and how to ask it."""
    lines = [f"I answer from <b>{plural(len(reports), 'report')}</b> with word-for-word quotes, "
             "each with its report, date and link. I never make anything up: if no report supports an answer, "
             "I say so."]
    if reports:
        lines.append("Newest: " + "; ".join(clip(squash(r.title).strip(), 120) for r in reports[:3]))
    how = "Mention me, reply to me, or use /ask." if group else "Just send me a question, or use /ask."
    lines.append(f"{how} For example:\n" + "\n".join(f"• {esc(q)}" for q in EXAMPLES))
    lines.append("“What's new?” gets the opening passages of the newest report, “What happened on March 3?” "
                 "those of that day's. A period narrows a question: “… since April 2023”, “… from March to May "
                 "2023”, “… last month”, “… over the past two weeks”, “… last winter”. /sources lists the "
                 "reports. Under an answer, <i>More</i> shows further passages and <i>Context</i> the text "
                 "around a passage; edit your question and I edit my answer.")
    if admin:
        lines.append("Admin: /add (send a document with the caption /add, reply /add to one, or /add &lt;url&gt;), "
                     "/forget &lt;id&gt;, /stats.")
    return pack(lines)[0]


def status_line(item: IngestItem) -> str:
    """One ingest outcome as a line."""
    if item.status == "failed":
        return f"✗ {clip(squash(item.reason or item.source), 600)}"
    if item.status == "skipped":
        return f"– skipped {clip(squash(item.reason or item.source), 600)}"
    what = clip(squash(item.title or item.source).strip(), 250)
    rid = f" <code>{esc(item.report_id or '')}</code>" if item.report_id else ""
    return f"✓ {item.status}: {what}{rid} ({plural(item.chunks, 'chunk')})"


def ingest_report(items: Sequence[IngestItem]) -> str:
    """The final status of an /add: one line per input (as many as fit) and the summary."""
    summary = f"<b>{IngestSummary(list(items)).line()}</b>"
    body = pack([status_line(i) for i in items], sep="\n", limit=LIMIT - units(summary) - 4)
    shown = body[0] + ("\n…" if len(body) > 1 else "") if body else ""
    return f"{shown}\n{summary}" if shown else summary


def ingest_progress(p: IngestProgress) -> str | None:
    """An /add's status while it runs: the input being read, then the share of sentences encoded;
    None when there is nothing new to say (the final report follows)."""
    if p.stage == "reading":
        if p.total == 1 and not p.what.startswith(("http://", "https://")):
            return None  # an uploaded document: "Reading and indexing" it is shown already
        return f"Fetching and reading {p.current} of {p.total}: {clip(p.what, 300)}…"
    if p.stage == "embedding":
        more = f" and {plural(p.batch - 1, 'other')}" if p.batch > 1 else ""
        return (f"Indexing {clip(p.what, 300)}{more}: {p.encoded:,} of {p.sentences:,} sentences embedded "
                f"({100 * p.encoded // max(1, p.sentences)}%)…")
    return "Updating the keyword index…" if p.stage == "indexing" else None


def forgotten(info: ReportInfo) -> str:
    """Confirmation of a /forget."""
    return f"Forgot <code>{esc(info.report_id)}</code> {clip(squash(info.title).strip(), 300)}."


def plural(n: int, word: str) -> str:
    """"1 report", "2 reports"."""
    return f"{n} {word}{'s' * (n != 1)}"


def stats_message(stats: dict[str, Any]) -> str:
    """Store and question figures."""
    median = stats.get("median_ms")
    return (f"<b>{plural(stats.get('reports', 0), 'report')}</b>, {plural(stats.get('chunks', 0), 'chunk')}, "
            f"{plural(stats.get('sentences', 0), 'sentence')}.\n"
            f"Since start: {plural(stats.get('asked', 0), 'question')}, {stats.get('answered', 0)} answered, "
            f"{stats.get('refused', 0)} refused; median {median if median is not None else '–'} ms.")


def reason(message: str, limit: int = 300) -> str:
    """An error's message as one plain line, fit for a reply or a button toast."""
    lines = [line.strip() for line in clean(message).splitlines() if line.strip()]
    first = lines[0] if lines else "Something went wrong."
    return first if len(first) <= limit else first[: limit - 1] + "…"


def rate_limited(per_minute: int, wait: float) -> str:
    """The reply when a user asks too fast."""
    return f"You're asking faster than {plural(per_minute, 'question')} a minute; try again in {max(1, round(wait))} s."
