"""Periods a question names relative to now: "the latest", "the past two weeks", "last month", "this
year". Now is the newest report in the store: a desk's store is its present, and a store of older
reports answers "last month" from the month before its newest report, saying so."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

from .when import windows

_COUNTS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_COUNT = r"\d{1,3}|(?:a\s+)?couple\s+of|" + "|".join(_COUNTS)
# "The past two weeks", "the last 48 hours", "recent months", "the past year". Not "the last weeks of
# the counteroffensive" or "the last days of Azovstal": a span "of" something is that thing's.
_SPAN = (rf"(?:(?:this\s+)?past|last|previous|recent)\s+(?:(?P<n>{_COUNT})\s+|(?P<few>few|several)\s+)?"
         r"(?P<unit>hours?|days?|weeks?|months?|years?)\b(?!\s+of\b)")
_SPANS = re.compile(rf"\b{_SPAN}", re.IGNORECASE)
# Words asking for the newest reporting, which a desk asks for more than any date.
RECENT = re.compile(
    r"\b(?:latest|newest|most recent|lately|recently|currently|right now|now|today|these days|this week"
    rf"|at the moment|at present|yesterday|last night|this morning|tonight)\b|\b{_SPAN}"
    # What comes next is forecast in the newest reports: "next week", "in the coming weeks", "the days ahead".
    r"|\bnext\s+(?:week|month|few\s+(?:days|weeks|months))\b|\bcoming\s+(?:days|weeks|months)\b"
    r"|\b(?:days|weeks|months)\s+ahead\b",
    re.IGNORECASE,
)
# "The latest" is the reports of this many days up to the newest report in the store: a week of a
# daily desk's assessments. A narrower span asked for ("yesterday") falls back to it, then to all.
RECENT_DAYS = 7
_DAY_AGO = re.compile(r"\b(?:yesterday|last night|this morning|today|tonight)\b", re.IGNORECASE)
# "The past few weeks": three of them; "recent months": three. Hours are counted in whole days.
_FEW = {"hour": (1, "day"), "day": (RECENT_DAYS, "day"), "week": (3, "week"), "month": (3, "month"),
        "year": (3, "year")}

# "Last month" and "this year" are calendar periods; "the last month" and "the past year" are spans
# (above). "Two months ago" is a month, "two years ago" a year, "two weeks ago" the week (from Monday)
# of that day, "two days ago" (or "the day before yesterday") a day; "on Monday" and "last Monday" the
# last Monday up to now ("since Monday": since that day), "a week ago Sunday" the Sunday before last;
# "last weekend", the last Saturday and Sunday; "last winter", "this quarter" and "the start of the
# year" what they are of now.
_WEEKDAYS = {name.lower(): n for n, name in enumerate(calendar.day_name)}
_WEEKDAY = "|".join(_WEEKDAYS)
_CALENDAR = re.compile(
    # A weekday some weeks before its last one: "on Monday two weeks ago", "a week ago Tuesday".
    rf"(?<![\d,.-])\b(?:(?:on|last)\s+)?(?P<cw_day>{_WEEKDAY})\s+(?P<cw_n>{_COUNT})\s+weeks?\s+ago\b"
    rf"|(?<![\d,.-])\b(?P<wc_n>{_COUNT})\s+weeks?\s+ago\s+(?:(?:on|last)\s+)?(?P<wc_day>{_WEEKDAY})\b(?![’']s)"
    rf"|\b(?:(?P<this>this)|(?<!\bthe\s)(?<!\bpast\s)(?P<last>last))\s+(?P<unit>month|year)\b(?!\s+of\b)"
    rf"|(?<![\d,.-])\b(?P<ago>{_COUNT})\s+(?P<ago_unit>day|week|month|year)s?\s+ago\b|\b(?P<dby>the\s+day\s+before\s+yesterday)\b"
    r"|\b(?P<weekend>(?:last|this|this\s+past|over\s+the|on\s+the|during\s+the)\s+weekend)\b(?![’']s)"
    r"|(?<!\bthe\s)\b(?P<sway>last|this|this\s+past)\s+(?P<season>spring|summer|fall|autumn|winter)\b(?!\s+of\b)"
    r"|(?<!\bthe\s)\b(?P<qway>last|this)\s+quarter\b(?!\s+of\b)"
    r"|\b(?:the\s+)?(?:start|beginning)\s+of\s+the\s+(?P<opening>year|month)\b(?!-)"
    rf"|\b(?P<wprep>on|last|this\s+past|since|before|after|until|till|by)\s+(?P<weekday>{_WEEKDAY})\b"
    # Not "Monday's", "on Monday, March 6" (the date says which), "on Tuesday afternoons" (every one).
    rf"(?![’']s)(?!\s*,?\s*(?:the\s+)?(?:\d|{'|'.join(name for name in calendar.month_name if name)})"
    r"|\s+of\b|\s+(?:morning|afternoon|evening|night)s\b)",
    re.IGNORECASE,
)
# A year after these words is a date the question already frames ("since 2022", "March 2022", "the
# winter of 2022"); any other is written "in 2022", as a bare year is no date ("2022 losses").
_FRAMED_YEAR = re.compile(
    r"\b(?:in|during|of|since|from|early|late|mid|Q[1-4]|quarter|half|spring|summer|fall|autumn|winter|"
    r"\d{1,2}(?:st|nd|rd|th)?|"
    + "|".join(name for name in calendar.month_name if name) + r")\s+$",
    re.IGNORECASE,
)


def _newest_day(newest: Callable[[], str | None]) -> date | None:
    last = newest()
    try:
        day = date.fromisoformat(last[:10]) if last else None
    except ValueError:
        return None
    return day if day and 1 < day.year < 9999 else None  # a year back and a week on stay dates


def _count(text: str) -> int:
    return int(text) if text.isdigit() else 2 if "couple" in text.lower() else _COUNTS[text.lower()]


def _month_back(day: date, months: int) -> date:
    """The same day ``months`` months earlier (the month's last day when it has fewer days; the first
    day there is when that is before it)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    if year < 1:
        return date.min
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _season(season: str, now: date) -> tuple[int, bool]:
    """The year the season of that name nearest ``now`` begins in (its latest start up to now, or this
    year's when it is still to come), and whether it was over by ``now``: the winter of December to
    February counts from its December."""
    first = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}[season]
    year = now.year - (first == 12 and now.month < 9)  # from September on, "this winter" is the coming one
    end_month = first + 2
    ended = (now.year, now.month) > (year + (end_month > 12), (end_month - 1) % 12 + 1)
    return year, ended


def span(question: str) -> tuple[int, str] | None:
    """How far back the latest reporting a question asks for reaches, as a count of "day", "week",
    "month" or "year" ("the past two weeks": (2, "week"); "What is the latest?": RECENT_DAYS days);
    None when it asks for none."""
    m = _SPANS.search(question)
    if m is None:
        if not RECENT.search(question):
            return None
        return (1, "day") if _DAY_AGO.search(question) else (RECENT_DAYS, "day")
    unit = m.group("unit").lower()
    if m.group("n") is None and (m.group("few") or unit.endswith("s")):
        return _FEW[unit.rstrip("s")]
    n, unit = (_count(m.group("n")) if m.group("n") else 1), unit.rstrip("s")
    return (max(1, -(-n // 24)), "day") if unit == "hour" else (n, unit)


def latest_since(question: str, newest: Callable[[], str | None]) -> list[str]:
    """The first report dates of the latest reporting to search in turn, when the question asks for
    the latest and names no period: the span it asks for up to the newest report's date, then a
    week (RECENT_DAYS) when that is wider ("yesterday", then the week). Empty otherwise."""
    asked = span(question)
    last = _newest_day(newest) if asked is not None and not windows(question) else None
    if last is None or asked is None:
        return []
    n, unit = asked
    if unit in ("month", "year"):  # the same day of that month: "the past month" of April 24 is from March 24
        first = _month_back(last, n * (12 if unit == "year" else 1))
    else:
        days = n * (7 if unit == "week" else 1)
        first = last - timedelta(days=days) if days < (last - date.min).days else date.min
    week = last - timedelta(days=RECENT_DAYS)
    return [first.isoformat()] + [week.isoformat()] * (first > week)


def span_start(question: str, newest: Callable[[], str | None]) -> str | None:
    """The first report date of the span a question names outright, when it is wider than the
    newest report's day ("the past two weeks", "this week": a digest of those reports); None for
    "the latest" or "yesterday" (the newest report tells of it) or no span."""
    if not (_SPANS.search(question) or re.search(r"\bthis\s+week\b", question, re.IGNORECASE)):
        return None
    starts, last = latest_since(question, newest), _newest_day(newest)
    return starts[0] if starts and last and starts[0] < (last - timedelta(days=1)).isoformat() else None


def resolve(question: str, newest: Callable[[], str | None]) -> tuple[str, str]:
    """The question with each calendar period it names relative to now ("last month", "this year",
    "two months ago", "three days ago", "on Monday", "over the weekend") written as the period it is
    of the newest report's date, and a line saying how it was read; the question unchanged and ""
    when it names none or no report is dated."""
    if not _CALENDAR.search(question) or (last := _newest_day(newest)) is None:
        return question, ""
    read: list[str] = []

    def named(day: date) -> str:
        return f"{calendar.month_name[day.month]} {day.day}, {day.year}"

    def absolute(m: re.Match[str]) -> str:
        said = m.group(0)
        if weekday := m.group("cw_day") or m.group("wc_day"):  # "a week ago Sunday": the Sunday before last
            back = (last.weekday() - _WEEKDAYS[weekday.lower()]) % 7 + _count(m.group("cw_n") or m.group("wc_n")) * 7
            if back + 7 >= (last - date.min).days:
                return said
            text = f"on {named(last - timedelta(days=back))}"
        elif m.group("weekday"):  # "on Monday" of a Monday's report is that day; "last Monday", the one before
            way = " ".join(m.group("wprep").lower().split())
            back = (last.weekday() - _WEEKDAYS[m.group("weekday").lower()]) % 7
            text = named(last - timedelta(days=back or 7 * (way == "last")))
            if way in ("on", "last", "this past"):
                text = f"on {text}"
            else:  # "since Monday": the word before stays
                text, said = f"{way} {text}", m.group("weekday")
        elif m.group("weekend"):  # "last weekend" of a Sunday's report is the one before
            back = (last.weekday() - 5) % 7
            again = back < 2 and m.group("weekend").lower().startswith("last")
            saturday = last - timedelta(days=back + 7 * again)
            text = f"from {named(saturday)} to {named(saturday + timedelta(days=1))}"
            read.append(f"“{said}” as the weekend of {named(saturday)}")
            return text
        elif m.group("season"):  # "this winter" of April is the one just ended; "last summer", the last one over
            season = m.group("season").lower()
            year, ended = _season(season, last)
            if m.group("sway").lower() != "this" and not ended:
                year -= 1
            if year < 1:
                return said
            text = f"the {season} of {year}" + (f"-{(year + 1) % 100:02d}" if season == "winter" else "")
        elif m.group("qway"):
            quarter = (last.year * 4 + (last.month - 1) // 3) - (m.group("qway").lower() == "last")
            text = f"Q{quarter % 4 + 1} {quarter // 4}"
        elif m.group("opening"):  # "since the start of the year": of this year
            of_month = f"{calendar.month_name[last.month]} " if m.group("opening").lower() == "month" else ""
            text = re.sub(r"the\s+\w+$", f"{of_month}{last.year}", said)
        elif m.group("dby") or m.group("ago_unit") in ("day", "week"):  # back from the newest report's day
            week = m.group("ago_unit") == "week"  # the Monday-to-Sunday week of that day
            back = 2 if m.group("dby") else _count(m.group("ago")) * (7 if week else 1)
            if back + 7 >= (last - date.min).days:
                return said
            day = last - timedelta(days=back)
            text = f"the week of {named(day - timedelta(days=day.weekday()))}" if week else f"on {named(day)}"
        elif "month" in (m.group("ago_unit"), (m.group("unit") or "").lower()):
            if (back := _count(m.group("ago")) if m.group("ago") else int(bool(m.group("last")))) >= last.year * 12:
                return said
            month = _month_back(last, back)
            text = f"{calendar.month_name[month.month]} {month.year}"
        else:  # a year: "this year", "last year", "two years ago"
            if (year := last.year - (_count(m.group("ago")) if m.group("ago") else bool(m.group("last")))) < 1:
                return said
            text = str(year) if _FRAMED_YEAR.search(question, 0, m.start()) else f"in {year}"
        read.append(f"“{said}” as {re.sub(r'^(?:in|on|since|before|after|until|till|by) ', '', text)}")
        return text

    resolved = _CALENDAR.sub(absolute, question)
    if not read:  # every period named reached before the first year
        return question, ""
    return resolved, f"Read {' and '.join(read)}: the newest report is dated {last.isoformat()}."
