"""One canonical text per report: every offset in the store points into what this returns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

# Page furniture that news sites and think-tank exports leave in the text. A paragraph that is
# nothing but one of these is dropped, so it can never be quoted as if it were reporting.
_DEBRIS = re.compile(
    r"""^(?:back\ to\ top|more\ in\ (?:this\ )?section|read\ more|related(?:\ (?:articles?|stories|posts))?
    |share(?:\ this(?:\ (?:article|story))?)?|print|advertisement|subscribe(?:\ now)?|skip\ to\ (?:main\ )?content
    |follow\ us(?:\ on\ .{0,30})?|click\ here(?:\ to\ .{0,60})?|sign\ up(?:\ for\ .{0,40})?|top\ stories
    |previous(?:\ article)?|next(?:\ article)?|see\ also|tags?:.{0,80}|image(?:\ credit)?:.{0,120}
    |photo(?:\ credit)?:.{0,120}|source:\ (?:isw|map).{0,80}|\W*)$""",
    re.IGNORECASE | re.VERBOSE,
)
# Map and figure captions (ISW's "This map is updated daily ...", "Click here to expand the map").
_CAPTION = re.compile(
    r"(?:this map is updated|click (?:here )?to (?:expand|enlarge|see) (?:the|this) map|interactive map|"
    r"^(?:map|figure|fig\.|chart|graphic)\s*\d*\s*[:.\-–—])",
    re.IGNORECASE,
)
# Cookie and consent banners that a page's markup does not mark as such (trafilatura drops the
# marked ones): short paragraphs that speak to the visitor about cookies.
_CONSENT = re.compile(
    r"\b(?:we|this (?:web)?site|our (?:web)?site) (?:uses?|serves?) cookies\b|\baccept (?:all )?cookies\b|"
    r"\bcookie (?:policy|settings|preferences)\b|\buse of cookies\b",
    re.IGNORECASE,
)
CONSENT_MAX = 400
# Runs of separators left where an export joined paragraphs with commas (", ,, ,,"). The match
# starts at a comma and never backtracks (possessive ``*+``): a pattern that may start in whitespace
# is quadratic on a long run of spaces. Whitespace before the run is trimmed by ``clean_line``.
_COMMA_RUNS = re.compile(r",(?:\s*+,)++\s*+")
_INVISIBLE = re.compile("[\u200b\u200c\u200e\u200f\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BULLET = re.compile(r"^(?:[-*]\s+|[•·▪◦●■○➢]\s*|(\d{1,3})[.)]\s+)")
_ITEM_ENDS = (".", "!", "?", ":", ";", ")", '"', "”", "’")
# Markdown patterns run on every line of untrusted files, so none may scan past the next bracket or
# delimiter from each of its start positions: that is quadratic on a line of "[[[[" or "**a **a".
_MD_IMAGE = re.compile(r"!\[[^\[\]]*\]\((?:[^()]|\([^()]*\))*+\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]|\([^()]*\))*+\)")
_MD_EMPH = re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
# No real paragraph comes near this (ISW's longest is 2.5k characters, SQuAD's 4k); longer ones are
# cut, at a space when there is one, because the sentence splitter (sentencex) slows down
# quadratically on some long runs: a 1 MB line of "![a![a..." took minutes in one piece.
MAX_PARAGRAPH = 10_000


# HTML tags pasted into a question ("<b>Kherson</b> latest"): markup, not words to search for.
_TAG = re.compile(
    r"</?(?:a|abbr|b|big|blockquote|body|br|button|code|del|div|em|embed|font|form|h[1-6]|head|html|i|iframe|img"
    r"|input|ins|li|link|mark|meta|object|ol|option|p|pre|s|script|select|small|span|strike|strong|style|sub|sup"
    r"|svg|table|td|textarea|th|title|tr|tg-spoiler|u|ul)(?:\s[^<>]{0,200})?/?>",
    re.IGNORECASE,
)


def question_text(question: str) -> str:
    """A question as searched: HTML tags dropped, runs of whitespace made one space."""
    return " ".join(_TAG.sub(" ", question).split())


def non_latin(text: str) -> bool:
    """True when most of the letters of ``text`` are not Latin (Cyrillic, Arabic, CJK, …)."""
    letters = [c for c in text if c.isalpha()]
    return sum(c > "\u024f" for c in letters) * 2 > len(letters)


# Typeset ligatures (PDF exports are full of them) as their letters: "ofﬁcial" must match "official".
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st",
                            # Word's bullets in the Symbol and Wingdings fonts, as PDFs of its files carry them
                            "\uf0b7": "•", "\uf0a7": "▪", "\uf0d8": "➢"})


def clean_line(line: str) -> str:
    """Unicode NFC, ligatures as letters, invisible characters removed, runs of spaces collapsed, ends trimmed."""
    line = unicodedata.normalize("NFC", line).translate(_LIGATURES)
    line = _INVISIBLE.sub("", line)
    return _SPACES.sub(" ", line).strip()


def strip_markdown(line: str) -> str:
    """Markdown syntax that a reader would not see: headings, images, link targets, emphasis."""
    line = _MD_HEADING.sub("", line)
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    return _MD_EMPH.sub(r"\2", line)


def is_debris(paragraph: str) -> bool:
    """True for navigation links, share buttons, captions and cookie banners that must never be quoted."""
    if len(paragraph) <= 120 and _DEBRIS.match(paragraph):
        return True
    if len(paragraph) <= CONSENT_MAX and _CONSENT.search(paragraph):
        return True
    return len(paragraph) <= 300 and bool(_CAPTION.search(paragraph))


def split_long(paragraph: str) -> list[str]:
    """A paragraph cut into pieces of at most MAX_PARAGRAPH characters (usually just itself)."""
    pieces = []
    while len(paragraph) > MAX_PARAGRAPH:
        cut = paragraph.rfind(" ", MAX_PARAGRAPH // 2, MAX_PARAGRAPH + 1)
        cut = MAX_PARAGRAPH if cut < 0 else cut
        pieces.append(paragraph[:cut].rstrip())
        paragraph = paragraph[cut:].lstrip()
    pieces.append(paragraph)
    return [p for p in pieces if p]


def paragraphs(raw: str, *, markdown: bool = False, lines_are_paragraphs: bool = False) -> list[str]:
    """Split raw text into clean paragraphs (blank lines, bullets, or every line) minus debris."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    raw = _COMMA_RUNS.sub("\n\n", raw)
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            text = " ".join(current)
            if text and not is_debris(text):
                out.extend(split_long(text))
            current.clear()

    item = 0  # the number of the numbered item the current paragraph opened with
    for raw_line in raw.split("\n"):
        line = clean_line(raw_line)
        if markdown:
            line = clean_line(strip_markdown(line))
        if not line:
            flush()
            item = 0
            continue
        if lines_are_paragraphs or (markdown and raw_line.lstrip().startswith("#")):
            flush()
            current.append(line)
            flush()
            continue
        if bullet := _BULLET.match(line):
            # A list item opens a paragraph; the lines under it, up to the next item or blank line,
            # are its own wrapped text. "300. Casualties…" under "…more than" is no item, though:
            # a numbered one opens only after a finished line, or after the item numbered before it.
            number = int(bullet.group(1)) if bullet.group(1) else 0
            if not number or not current or current[-1].endswith(_ITEM_ENDS) or number == item + 1:
                flush()
                item = number
        current.append(line)
    flush()
    return out


def join(sections: Iterable[tuple[int | None, list[str]]], *,
         carries_on: Callable[[int], bool] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """Join ``(page, paragraphs)`` sections into one text; return it and ``(offset, page)`` marks.
    Where ``carries_on(page)`` holds, that page's first paragraph continues the one before it (a
    sentence cut by a page break), and its page mark falls inside that paragraph."""
    parts: list[str] = []
    marks: list[tuple[int, int]] = []
    offset = 0
    for page, paras in sections:
        if not paras:
            continue
        if parts:
            sep = " " if carries_on is not None and page is not None and carries_on(page) else "\n\n"
            parts.append(sep)
            offset += len(sep)
        if page is not None:
            marks.append((offset, page))
        block = "\n\n".join(paras)
        parts.append(block)
        offset += len(block)
    return "".join(parts), marks


def page_at(marks: Sequence[Sequence[int]], offset: int) -> int | None:
    """The page an offset of a text falls on, from its ``(start, page)`` marks (None without pages)."""
    page = None
    for start, number in marks:
        if start > offset:
            break
        page = number
    return page
