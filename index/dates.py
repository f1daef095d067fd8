"""Report dates read from metadata, file names and a text's dateline, as YYYY-MM-DD."""

from __future__ import annotations

import re
from datetime import date as Date

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
)}
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-_./](\d{1,2})[-_./](\d{1,2})(?!\d)")
# The top of a text where its own date may stand: up to this many paragraphs before the first one of
# prose (longer than DATELINE_CHARS, or a sentence of more than DATELINE_WORDS words).
DATELINE_PARAGRAPHS, DATELINE_CHARS, DATELINE_WORDS = 6, 160, 8
_NUMERIC_DATE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})")
_LONG_DATE = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)"
    r"\s+(\d{1,2}),?\s+(\d{4})\b|\b(\d{1,2})\s+(january|february|march|april|may|june|july|august|"
    r"september|october|november|december),?\s+(\d{4})\b",
    re.IGNORECASE,
)


def parse_date(value: object) -> str | None:
    """A YYYY-MM-DD string from a date, an ISO-ish string or 'March 21, 2023', else None."""
    if isinstance(value, Date):
        return value.isoformat()[:10]
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if m := re.match(r"D:(\d{4})(\d{2})(\d{2})", text):  # PDF date
        return _valid(*m.groups())
    if m := _ISO_DATE.search(text):
        return _valid(*m.groups())
    if m := _NUMERIC_DATE.fullmatch(text):  # a value that is only a date, day or month first
        return _day_first(*m.group(1, 2, 3, 4))
    if m := _LONG_DATE.search(text):
        if m.group(1):
            return _valid(m.group(3), str(_MONTHS[m.group(1).lower()]), m.group(2))
        return _valid(m.group(6), str(_MONTHS[m.group(5).lower()]), m.group(4))
    return None


def _day_first(first: str, sep: str, second: str, year: str) -> str | None:
    """21.03.2023 (dots: always day first, as where they are written), 21/03/2023 or 03/21/2023 (the
    number over 12 is the day); 03/04/2023 could be either, so it is no date."""
    a, b = int(first), int(second)
    if sep == "." or a > 12:
        return _valid(year, second, first)
    return _valid(year, first, second) if b > 12 else None


def _valid(year: str, month: str, day: str) -> str | None:
    try:
        return Date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def dateline(text: str) -> str:
    """The top of a text before its first paragraph of prose (title, byline, dateline): where a
    report's own date stands. A date inside the prose ("On February 24, 2022, Russia…") is what the
    report is about, not when it was written."""
    head = []
    for paragraph in text.split("\n\n")[:DATELINE_PARAGRAPHS]:
        if len(paragraph) > DATELINE_CHARS or (paragraph.endswith((".", "!", "?")) and
                                               len(paragraph.split()) > DATELINE_WORDS):
            break
        head.append(paragraph)
    return "\n".join(head)
