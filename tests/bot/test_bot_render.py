"""Rendering is pure: any report text or question becomes valid Telegram HTML within 4,096 characters,
and report text can never inject markup or links. Checked with the same parser the fake server uses."""

from __future__ import annotations

import html
import re

import pytest
from bot_harness import TOKEN, USER
from fake_bot_api import FakeBotAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot
from telegram.error import BadRequest
from telegram_html import HtmlError, parse_html, utf16_len

from bot import render
from bot.access import RateLimit
from index import REFUSAL, Answer, IngestItem, Passage, ReportInfo

NASTY = st.sampled_from(["<", ">", "&", '"', "'", "<b>", "</b>", "<a href=\"x\">", "&amp;", "&#0;", "\n", "\u200f",
                         "😀", "\x00", "\ud800", "\r\n\r\n", "<tg-spoiler>", "</a>", "javascript:", " "])
TEXT = st.lists(st.one_of(st.text(max_size=30), NASTY), max_size=12).map("".join)
LONG = st.one_of(TEXT, st.tuples(TEXT, st.integers(1, 150)).map(lambda t: t[0] * t[1]))
URLS = st.one_of(st.none(), st.just("https://example.org/a?b=1&c=<2>"), st.just("javascript:alert(1)"),
                 st.text(max_size=60), st.just("https://x.org/" + "a" * 3000), TEXT.map(lambda t: "http://e.org/" + t))


@st.composite
def passages(draw: st.DrawFn) -> Passage:
    """A passage with arbitrary text, title, URL and date, and quote offsets inside (or outside) it."""
    text = draw(LONG)
    start = draw(st.integers(0, 10_000))
    a = draw(st.integers(0, len(text)))
    b = draw(st.integers(a, len(text)))
    if draw(st.booleans()):  # sometimes offsets out of step with the text
        a, b = draw(st.integers(-5, len(text) + 5)), draw(st.integers(-5, len(text) + 5))
    return Passage(report_id=draw(st.text(max_size=20)), title=draw(LONG), publisher=None, date=draw(st.none() | TEXT),
                   url=draw(URLS), path=None, page=draw(st.none() | st.integers(0, 999)), start=start,
                   end=start + len(text), text=text, quote=text[max(a, 0):max(b, 0)], quote_start=start + a,
                   quote_end=start + b, score=0.5, chunk_id=draw(st.text(max_size=70)))


def check(message: str) -> str:
    """Telegram would accept ``message``: parseable in its HTML subset, within the limit."""
    plain = parse_html(message)
    assert utf16_len(message) <= render.LIMIT and plain.strip()
    return plain


def test_passage_block_quote_bold_then_citation_with_link() -> None:
    text = "Before the quote. Xi praised Putin & reaffirmed <ties>. After it."
    p = Passage("r1", "ISW <assessment>", "ISW", "2023-03-21", "https://isw.org/a?x=1&y=2", None, 4, 100, 100 + len(text),
                text, "Xi praised Putin & reaffirmed <ties>.", 118, 155, 0.9, "abc:1")
    block = render.passage_block(1, p)
    assert block == ("<b>1.</b> Before the quote. <b>Xi praised Putin &amp; reaffirmed &lt;ties&gt;.</b> After it.\n"
                     '— <a href="https://isw.org/a?x=1&amp;y=2">ISW &lt;assessment&gt;</a>, 2023-03-21, p. 4')
    check(block)


def test_the_date_is_cited_unless_the_title_names_it() -> None:
    assert render.cite("Russian Offensive Campaign Assessment, March 21, 2023", "2023-03-21", None) == \
        "— Russian Offensive Campaign Assessment, March 21, 2023"
    assert render.cite("Daily brief 21 March 2023", "2023-03-21", None, 2) == "— Daily brief 21 March 2023, p. 2"
    assert render.cite("Assessment, 2023-03-21", "2023-03-21", None) == "— Assessment, 2023-03-21"
    assert render.cite("Assessment, March 20, 2023", "2023-03-21", None) == \
        "— Assessment, March 20, 2023, 2023-03-21"  # another day: both shown
    assert render.cite("Xi in Moscow", "2023-03-21", None) == "— Xi in Moscow, 2023-03-21"
    assert render.cite("Xi in Moscow", "March 2023", None) == "— Xi in Moscow, March 2023"  # not ISO: as is


def test_report_text_cannot_inject_markup_or_links() -> None:
    evil = '<a href="https://evil.example">click</a><b>bold</b>&lt;'
    p = Passage("r", evil, None, "<i>2023</i>", "javascript:alert(1)", None, None, 0, len(evil), evil, evil, 0,
                len(evil), 0.1, "c:1")
    message = render.answer_messages(Answer("q", True, "1 passage", 1.0, (p,)))[0]
    assert check(message).count(evil) == 2 and check(message).endswith(", <i>2023</i>")  # text, not markup
    assert "evil.example\">" not in message and "<a " not in message


def test_refusal_and_no_more() -> None:
    assert render.answer_messages(Answer("q", False, REFUSAL, 1.0)) == [REFUSAL]
    assert render.answer_messages(Answer("q", True, "No more passages.", 1.0)) == ["No more passages."]
    assert render.answer_keyboard(Answer("q", False, REFUSAL, 1.0), 0, "k", 3) is None


def test_long_answers_split_between_passages_only() -> None:
    quote = "The assessment is long. " * 70
    ps = tuple(Passage("r", f"T{n}", None, None, None, None, None, 0, len(quote), quote, quote, 0, len(quote), 0.5,
                       f"r:{n}") for n in range(12))
    messages = render.answer_messages(Answer("q", True, "", 1.0, ps), offset=3)
    assert len(messages) > 2
    numbers = []
    for m in messages:
        check(m)
        assert m.startswith("<b>")
        numbers += [int(n) for n in re.findall(r"<b>(\d+)\.</b>", m)]
    assert numbers == list(range(4, 16))


def test_keyboard_fits_callback_limits() -> None:
    p = Passage("r", "t", None, None, None, None, None, 0, 1, "x", "x", 0, 1, 0.5, "0123456789abcdef:12")
    long = Passage("r", "t", None, None, None, None, None, 0, 1, "x", "x", 0, 1, 0.5, "z" * 70)
    markup = render.answer_keyboard(Answer("q", True, "", 1.0, (p, long, p)), 3, "0123456789ab", 3)
    assert markup is not None
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["ctx:0123456789abcdef:12", "ctx:0123456789abcdef:12", "more:6:0123456789ab"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(passages(), min_size=1, max_size=8), st.integers(0, 50), TEXT, st.one_of(st.just(""), LONG))
def test_any_answer_renders_to_valid_telegram_html(ps: list[Passage], offset: int, question: str, note: str) -> None:
    answer = Answer(question, True, "", 1.0, tuple(ps), note=note)
    messages = render.answer_messages(answer, offset)
    # a note (a digest's "The opening passages of …", with a report's title) heads the first message
    assert messages[0].startswith("<i>") == bool(render.squash(note).strip())
    for m in messages:
        check(m)
        # report text never turns into markup: the only tags are ours, the only links the reports' URLs
        assert set(re.findall(r"</?([a-z-]+)", m)) <= {"b", "a", "i"}
        hrefs = [html.unescape(h) for h in re.findall(r'<a href="([^"]*)"', m)]
        assert all(h.startswith(("http://", "https://")) and h in {p.url for p in ps} for h in hrefs)
    # each block starts a message or follows a blank line (a quote of "0." is bold too, but inside a block)
    numbers = [int(n) for m in messages for n in re.findall(r"(?:^|\n\n)<b>(\d+)\.</b> ", m)]
    assert numbers == list(range(offset + 1, offset + len(ps) + 1))
    markup = render.answer_keyboard(answer, offset, "0123456789ab", 3)
    for row in markup.inline_keyboard if markup else ():
        assert all(len(str(b.callback_data).encode()) <= 64 for b in row)


@settings(max_examples=150, deadline=None)
@given(LONG, TEXT, TEXT, URLS, st.integers(0, 30), st.integers(0, 5))
def test_every_other_message_renders_valid(text: str, title: str, date: str, url: str | None, n: int,
                                           page: int) -> None:
    info = ReportInfo(title[:30] or "r", title, None, date or None, None, url, n)
    check(render.context_message(text, info))
    reports = [info] * n
    body, _ = render.sources_page(reports, page)
    check(body)
    check(render.help_message(reports, admin=bool(n % 2), group=bool(page % 2)))
    items = [IngestItem(text, "failed", reason=text), IngestItem(title, "new", title, title, n)] * (n + 1)
    check(render.ingest_report(items))
    check(render.esc(render.reason(text)) or "x")
    check(render.forgotten(info))


@given(LONG, st.integers(2, 400), st.booleans())
def test_clip_keeps_an_escaped_end_of_the_text_within_budget(text: str, budget: int, keep_end: bool) -> None:
    out = render.clip(text, budget, keep_end=keep_end)
    assert render.units(out) <= budget
    whole = render.clean(text)
    if render.units(render.esc(text)) <= budget:
        assert out == render.esc(text)
        return
    kept = html.unescape(out.removeprefix("…") if keep_end else out.removesuffix("…"))
    assert out != kept and (whole.endswith(kept) if keep_end else whole.startswith(kept))
    # Nearly the whole budget is used: at most 30% is given back to end on a word boundary (+1 for
    # the ellipsis; a character wider than one unit may overshoot by as much as 4 more).
    assert render.units(render.esc(kept)) >= int((budget - 1) * 0.7) - 5


def test_fake_server_parser_rejects_what_telegram_rejects() -> None:
    assert parse_html('<b>a <i>b</i></b> &lt;&amp;&gt;&quot;&#39;&#x1F600; <a href="https://x.org/?a=1&amp;b">l</a>') \
        == "a b <&>\"'😀 l"
    for bad in ["<b>x", "x</b>", "<b><i>x</b></i>", "<div>x</div>", "a < b", "a > b", "a & b", "&nbsp;",
                '<a href="javascript:alert(1)">x</a>', "<a>x</a>", '<b class="x">y</b>', "<span>x</span>",
                '<a href="https://a"><a href="https://b">x</a></a>']:
        with pytest.raises(HtmlError):
            parse_html(bad)


async def test_fake_server_rejects_what_telegram_rejects_over_http(fake: FakeBotAPI) -> None:
    fake.private(USER)
    async with Bot(TOKEN, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot") as tg:
        sent = await tg.send_message(USER, "<b>ok</b> &amp; 😀" * 10, parse_mode="HTML")
        assert sent.text == "ok & 😀" * 10
        for text, why in [("x" * 4097, "message is too long"), ("😀" * 2049, "message is too long"),
                          ("<b>x", "can't parse entities"), ("a & b", "can't parse entities"), ("  ", "text is empty")]:
            with pytest.raises(BadRequest, match=f"(?i){why}"):
                await tg.send_message(USER, text, parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await tg.edit_message_text("x", chat_id=USER, message_id=999)
    assert fake.sent(USER) == [fake.outbox[0]]


def test_rate_limit_window() -> None:
    now = [0.0]
    limit = RateLimit(2, window=60.0, clock=lambda: now[0])
    assert limit.wait(1) == 0 and limit.wait(1) == 0
    assert limit.wait(1) == pytest.approx(60.0) and limit.wait(2) == 0
    now[0] = 30.0
    assert limit.wait(1) == pytest.approx(30.0)
    now[0] = 60.5
    assert limit.wait(1) == 0
