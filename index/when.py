"""Dates named in a question ("in late March 2022", "on August 18") as report-date windows. (Periods
relative to now, "the latest", "last month", are index/recent.py's.)"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

_MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d(?:[1-9]|0(?![’']?s\b))"  # not a decade: "the late 1950s", "the 1990's"
# Parts of a year: quarters, halves, seasons (the northern hemisphere's, by meteorological months),
# and its early / mid / late third, as the months they span.
_QUARTERS = {"1": 1, "first": 1, "1st": 1, "2": 2, "second": 2, "2nd": 2, "3": 3, "third": 3, "3rd": 3,
             "4": 4, "fourth": 4, "4th": 4, "last": 4, "final": 4}
_HALVES = {"1": 1, "first": 1, "1st": 1, "2": 2, "second": 2, "2nd": 2, "latter": 2}
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
_THIRDS = {"early": (1, 4), "beginning of": (1, 4), "start of": (1, 4), "mid": (5, 8), "middle of": (5, 8),
           "late": (9, 12), "end of": (9, 12)}
_PATTERN = re.compile(
    rf"\b(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)\b"
    # Numeric dates: "14.03.2023" day first, "3/14/2023" and "14-03-2023" either way (both readings
    # when both numbers could be the month), "2023/03/14" year first.
    rf"|\b(?P<ymd>{_YEAR})(?P<ysep>[./])(?P<ym>[01]?\d)(?P=ysep)(?P<yd>[0-3]?\d)\b(?![./-]\d)"
    rf"|\b(?P<n1>[0-3]?\d)(?P<nsep>[./-])(?P<n2>[0-3]?\d)(?P=nsep)(?P<nyear>(?:19|20)?\d\d)\b(?![./-]\d)"
    rf"|\b(?:Q(?P<q>[1-4])|(?P<qword>first|second|third|fourth|1st|2nd|3rd|4th|last|final)\s+quarter)"
    rf"(?:(?:\s+of)?[\s,/-]+(?P<qyear>{_YEAR}))?\b"
    rf"|\b(?:H(?P<h>[12])|(?P<hword>first|second|1st|2nd|latter)\s+half)(?:\s+of)?[\s,/-]+(?P<hyear>{_YEAR})\b"
    # A season names a year ("summer 2022", "the winter of 2022-23"), or follows "in" or "during"
    # ("in the spring"): "Did Bakhmut fall?" names no autumn.
    rf"|\b(?P<sprep>(?:in|during|over|through|throughout)\s+(?:the\s+)?)?(?P<season>spring|summer|fall|autumn|winter)"
    rf"(?:(?:\s+of)?,?\s+(?P<syear>{_YEAR})(?:\s*[-–/]\s*(?P<syear2>(?:19|20)?\d\d)\b)?)?\b(?![-–]\w)"
    rf"|\b(?P<third>early|mid|middle of|late|end of|beginning of|start of)[\s-]+(?P<tyear>{_YEAR})\b(?![-–]\d)"
    rf"|\b(?P<dday>{_DAY})(?:\s*(?:-|–|to|through|and)\s*(?:the\s+)?(?P<dday2>{_DAY}))?"
    rf"(?P<of>\s+of)?\s+(?P<dmonth>{_MONTH})\b\.?(?:,?\s+(?P<dyear>(?:19|20)\d\d)\b)?"
    rf"|\b(?:(?P<part>early|mid|late|end of|beginning of|start of)[\s-]+)?(?P<month>{_MONTH})\.?"
    rf"(?:\s+(?P<day>{_DAY})(?:\s*(?:-|–|to|through|and)\s*(?P<day2>{_DAY})\b)?)?"
    rf"(?:,?\s+(?:of\s+)?(?P<year>(?:19|20)\d\d))?\b"
    rf"|\b(?:(?:(?P<between_years>between)|(?P<in_years>from|in|during|of))\s+)?(?P<first_year>(?:19|20)\d\d)\s*(?:-|–|—"
    rf"|\s(?:to|until|till|through)\s|(?(between_years)\sand\s|(?!)))\s*(?P<last_year>(?:19|20)?\d\d)\b(?![-–]\d)"
    rf"|\b(?:in|during|of|since|from)\s+(?P<only_year>{_YEAR})\b(?![-–/.]\d)",  # not "since 2023-01-15"
    re.IGNORECASE,
)
# Reports describe the previous days' events, so a window reaches this many days past its end.
LAG_DAYS = 3
# A word before a date that opens the period at one end: "since March 2023" (and every later date),
# "before" (every earlier one), "until" (earlier ones and the period itself). Only a date with a year
# opens: "since March" in reports over two years has no one meaning. Not "from": "the takeaways from
# March 21" ask for that day.
_REACH = re.compile(r"\b(?P<way>since|after|before|prior to|until|till|up to|through)\s+(?:the\s+)?$", re.IGNORECASE)
_REACHES = {"since": "later", "after": "later", "before": "earlier", "prior to": "earlier"}
# "The week of March 6": the seven days from that day.
_WEEK_OF = re.compile(r"\bweek\s+(?:of|beginning|starting|commencing)\s+(?:the\s+)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Window:
    """A span of report dates; ``year`` None means the month/day span in any year (and a span whose
    end comes before its start, "from November to February", runs over the new year)."""

    year: int | None
    start: tuple[int, int]  # (month, day)
    end: tuple[int, int]
    reach: str = ""  # "later": and every date after; "earlier": only the dates before; "until": both
    end_year: int | None = None  # the year of ``end`` when not ``year``: "from November 2022 to March 2023"

    def __post_init__(self) -> None:
        # A year lent to a month of any year ("in February and March 2023", "from December 2022 to
        # February") ends February on the 28th in a common year: a span of real dates.
        if self.year is not None:
            for field, year in (("start", self.year), ("end", self.end_year or self.year)):
                month, day = getattr(self, field)
                if day > (last := calendar.monthrange(year, month)[1]):
                    object.__setattr__(self, field, (month, last))

    def contains(self, iso: str | None, lag: int = LAG_DAYS) -> bool:
        """True when a YYYY-MM-DD report date falls in the window (plus ``lag`` days of reporting)."""
        if not iso or len(iso) < 10:
            return False
        if self.year is not None:
            first, last = self.span()
            if self.reach in ("", "until"):
                last = (date.fromisoformat(last) + timedelta(days=lag)).isoformat()
            return first <= iso[:10] <= last
        start = self.start[0] * 100 + self.start[1]
        end_m, end_d = self.end
        end_d += lag
        if end_d > 31:
            end_m, end_d = end_m + 1, end_d - 31
        if end_m > 12:
            end_m -= 12
        end = end_m * 100 + end_d
        value = int(iso[5:7]) * 100 + int(iso[8:10])
        if end < start:  # over the new year
            return value >= start or value <= end
        return start <= value <= end

    def span(self) -> tuple[str, str]:
        """The first and last dates (YYYY-MM-DD) of a window with a year, without the reporting lag;
        an open end is "0000-00-00" or "9999-99-99"."""
        start, end = date(self.year or 1, *self.start), date(self.end_year or self.year or 1, *self.end)
        first = "0000-00-00" if self.reach in ("earlier", "until") else start.isoformat()
        last = start - timedelta(days=1) if self.reach == "earlier" else end
        return first, "9999-99-99" if self.reach == "later" else last.isoformat()

    def months(self) -> Iterator[tuple[int, int]]:
        """The (year, month) of every month the window spans; a window of any year counts from year 0."""
        year, month = self.year or 0, self.start[0]
        last = (self.end_year or self.year, self.end[0]) if self.year else (int(self.end < self.start), self.end[0])
        while (year, month) <= last:
            yield year, month
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# A month name that is also a word ("may", "march") is a month after these.
_IN_MONTH = re.compile(r"\b(?:in|during|since|until|till|through|by|before|after|from)\s+(?:early\s+|late\s+|mid-?)?$",
                       re.IGNORECASE)


def _dates(question: str) -> Iterator[re.Match[str]]:
    before = None
    for m in _PATTERN.finditer(question):
        month = m.group("month") or ""
        if month.lower() in ("may", "march") and not (m.group("day") or m.group("year") or m.group("part")) \
                and not (before and _joined(question, before, m) or _IN_MONTH.search(question, 0, m.start())) \
                and (month.lower() == "may" or month.islower()):
            continue  # the verb "may" and the "march" on Moscow; not "from March to may", "in May", "the March offensive"
        if (m.group("dmonth") or "").lower() == "may" and not (m.group("dyear") or m.group("of")):
            continue  # "5 may be", not "5 May"
        if m.group("season") and not (m.group("syear") or m.group("sprep")) \
                or m.group("qword") and not m.group("qyear"):
            continue  # "Did Bakhmut fall?"; "the first quarter" of what
        yield m
        before = m


# What joins the two ends of a range: "from March to May 2023", "March 5 – April 2", "between 1 March
# and 15 April" (an "and" only after "between": "in March and May" names two months).
_LINK = re.compile(r"\s*(?:-|–|—|to|until|till|through|thru)\s*(?:the\s+)?", re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\s+(?:the\s+)?$", re.IGNORECASE)
# What parts the months of a list, which one year after the last names ("March, April and May 2023").
_LIST = re.compile(r"\s*(?:,|,?\s*(?:and|or|&))\s*(?:(?:in|on|of|during)\s+)?(?:the\s+)?", re.IGNORECASE)


def _joined(question: str, first: re.Match[str], second: re.Match[str]) -> bool:
    gap = question[first.end():second.start()]
    return bool(_LINK.fullmatch(gap) or re.fullmatch(r"\s*and\s+(?:the\s+)?", gap, re.IGNORECASE)
                and _BETWEEN.search(question, 0, first.start()))


def date_words(question: str) -> str:
    """The words of the dates a question names ("March 2023", "in 2022"), as one string."""
    return " ".join(m.group(0) for m in _dates(question))


def _day(text: str | None) -> int:
    return int(re.sub(r"\D", "", text)) if text else 0


def windows(question: str) -> list[Window]:
    """Every date span a question names; empty when it names none. The two ends of a range are one
    span ("from March to May 2023": March 1 to May 31)."""
    out: list[Window] = []
    spans: list[tuple[int, int]] = []  # where in the question each window's words are
    before = None
    for m in _dates(question):
        named = _windows_of(question, m)
        if not named:
            continue
        if len(named) == 1 and out and before is not None and _joined(question, before, m) \
                and (joined := _range(out[-1], named[0])):
            out[-1], spans[-1] = joined, (spans[-1][0], m.end())
        else:
            out += named
            spans += [m.span()] * len(named)
        before = m
    for n in range(len(out) - 2, -1, -1):  # "in March and May 2023": the list's year is March's too
        w, after = out[n], out[n + 1]
        if w.year is None and after.year is not None and w.start <= w.end \
                and _LIST.fullmatch(question, spans[n][1], spans[n + 1][0]):
            out[n] = Window(after.year, w.start, w.end)
    return out


def _windows_of(question: str, m: re.Match[str]) -> list[Window]:
    """The spans one date match names (two for "3/4/2023" or "winter 2023", which read two ways),
    opened by a word before it ("since", "before", …)."""
    reach_word = _REACH.search(question, 0, m.start())
    way = "since" if m.group(0).lower().startswith("since") else (reach_word.group("way").lower() if reach_word else "")
    reach = _REACHES.get(way, "until" if way else "")
    if m.group("ymd") or m.group("n1") or m.group("iso") or m.group("dday") or m.group("day"):
        days = [w for w in _numeric(m, reach) if w is not None] if m.group("ymd") or m.group("n1") else [_window(m, reach)]
        return [_week(w) if _WEEK_OF.search(question, 0, m.start()) else w for w in days if w is not None]
    if m.group("season"):
        return _season(m, reach)
    if m.group("q") or m.group("qword"):  # "Q1" alone: "from Q1 to Q3 2023", the range lends it a year
        quarter = _QUARTERS[(m.group("q") or m.group("qword")).lower()]
        return [_months(int(m.group("qyear")) if m.group("qyear") else None, 3 * quarter - 2, 3 * quarter, reach)]
    if m.group("hyear"):
        half = _HALVES[(m.group("h") or m.group("hword")).lower()]
        return [_months(int(m.group("hyear")), 6 * half - 5, 6 * half, reach)]
    if m.group("tyear"):
        return [_months(int(m.group("tyear")), *_THIRDS[" ".join(m.group("third").lower().split())], reach)]
    w = _window(m, reach)
    return [w] if w is not None else []


def _numeric(m: re.Match[str], reach: str) -> list[Window | None]:
    """"2023/03/14", "14.03.2023", "14-03-23", "3/14/2023"; "3/4/2023" is March 4 or April 3."""
    if m.group("ymd"):
        return [_day_window(int(m.group("ymd")), int(m.group("ym")), int(m.group("yd")), reach)]
    a, b, year_text = int(m.group("n1")), int(m.group("n2")), m.group("nyear")
    year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
    if m.group("nsep") == "." or a > 12:  # dots: day first, as where they are written
        return [_day_window(year, b, a, reach) if b <= 12 else _day_window(year, a, b, reach)]
    if b > 12 or a == b:
        return [_day_window(year, a, b, reach)]
    return [_day_window(year, a, b, reach), _day_window(year, b, a, reach)]


def _week(day: Window) -> Window:
    """The seven days from a one-day window's day (into the next month or year as need be)."""
    if day.start != day.end:
        return day
    end = date(day.year or 2024, *day.start) + timedelta(days=6)  # of any year: a leap year ("February 29")
    if day.year is not None and end.year > day.year:
        return Window(day.year, day.start, (end.month, end.day), day.reach, end_year=end.year)
    return Window(day.year, day.start, (end.month, end.day), day.reach)


def _day_window(year: int, month: int, day: int, reach: str) -> Window | None:
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    return Window(year, (month, day), (month, day), reach)


def _season(m: re.Match[str], reach: str) -> list[Window]:
    """A season's months; winter runs from December into the next year: "winter 2022-23" is December
    2022 to February 2023, and "winter 2023" reads both ways (its January and February, and the winter
    that begins in its December)."""
    first, last = _SEASONS[m.group("season").lower()]
    year = int(m.group("syear")) if m.group("syear") else None
    if first <= last or year is None:  # a winter of any year runs over the new year (Window.contains)
        return [_months(year, first, last, reach)]
    later = m.group("syear2")
    if later and (int(later) if len(later) == 4 else year // 100 * 100 + int(later)) == year + 1:
        return [_months(year, 12, 2, reach, year + 1)]
    return [_months(year, 1, 2, reach), _months(year, 12, 2, reach, year + 1)]


def _months(year: int | None, first: int, last: int, reach: str = "", end_year: int | None = None) -> Window:
    """From the first day of month ``first`` to the last of month ``last`` (in ``end_year`` when given;
    a window of any year ends February on the 29th, and opens at neither end)."""
    last_day = calendar.monthrange(end_year or year or 2024, last)[1]
    return Window(year, (first, 1), (last, last_day), reach if year is not None else "", end_year)


def _window(m: re.Match[str], reach: str) -> Window | None:
    """The span a day, month or year match names."""
    if m.group("only_year"):
        return Window(int(m.group("only_year")), (1, 1), (12, 31), reach)
    if m.group("first_year"):
        first, last = int(m.group("first_year")), m.group("last_year")
        last_year = int(last) if len(last) == 4 else first // 100 * 100 + int(last)  # "2022-23"
        if first < last_year <= first + 50:
            return Window(first, (1, 1), (12, 31), end_year=last_year)
        return Window(first, (1, 1), (12, 31)) if m.group("in_years") else None  # "in 2022 - 15 people"
    year: int | None
    if m.group("iso"):
        iso_year, month, day = (int(x) for x in m.group("iso").split("-"))
        year, last_day = iso_year, calendar.monthrange(iso_year, month)[1] if 1 <= month <= 12 else 0
    else:
        day_first = bool(m.group("dmonth"))
        month = _MONTHS[(m.group("dmonth") if day_first else m.group("month")).lower()]
        year_text = m.group("dyear") if day_first else m.group("year")
        year = int(year_text) if year_text else None
        day = _day(m.group("dday") if day_first else m.group("day"))
        last_day = calendar.monthrange(year or 2024, month)[1]  # a leap year: "February 29" is a day
    if not 1 <= day <= last_day:
        if m.group("iso"):
            return None
        day = 0
    part = (m.group("part") or "").lower()
    if day:
        end = _day(m.group("dday2") if m.group("dmonth") else m.group("day2"))
        span = (month, day), (month, end if day < end <= last_day else day)
    elif part in ("early", "beginning of", "start of"):
        span = (month, 1), (month, 10)
    elif part == "mid":
        span = (month, 10), (month, 20)
    elif part in ("late", "end of"):
        span = (month, 20), (month, last_day)
    else:
        span = (month, 1), (month, last_day)
    return Window(year, *span, reach if year is not None else "")


def _range(first: Window, last: Window) -> Window | None:
    """One window from the start of ``first`` to the end of ``last``, a year the one names lent to
    the other ("from November to February 2023": November 2022); None when it runs backwards."""
    start_year, end_year = first.year, last.end_year or last.year
    if start_year is None and end_year is not None:
        start_year = end_year - (first.start > last.end)
    elif end_year is None and start_year is not None:
        end_year = (first.end_year or start_year) + (last.end < first.start)
    if start_year is None or end_year is None:
        return Window(None, first.start, last.end)
    if (start_year, first.start) > (end_year, last.end):
        return None
    return Window(start_year, first.start, last.end, end_year=end_year if end_year != start_year else None)


def opens_at(question: str) -> str | None:
    """The first date of the period when every period the question names reaches to the newest
    report ("since April 2023": 2023-04-01), a date before which no report can tell of it; else None.
    (An earlier one may look back: "before" and "until" only rank the period's reports first.)"""
    named = windows(question)
    if named and all(w.reach == "later" for w in named):
        return min(w.span()[0] for w in named)
    return None


def too_late(question: str, newest: Callable[[], str | None]) -> str | None:
    """``newest()`` (the newest report date) when every period the question names begins after it
    ("What happened in Bakhmut in May 2023?" of reports up to April); None otherwise."""
    named = windows(question)
    last = newest() if named and all(w.year is not None and w.reach in ("", "later") for w in named) else None
    if last and all(w.span()[0] > last[:10] for w in named):
        return last
    return None


def names_period(question: str, text: str) -> bool:
    """True when ``text`` names a period of the question by its year (and month, capitalised, unless
    the period is the whole year): how an earlier report can speak of a later period ("Russia plans
    to form two new armies by 2024")."""
    for w in windows(question):
        if w.year is None:
            continue
        spanned = list(w.months())
        names = {name for _, n in spanned for name in (calendar.month_name[n], calendar.month_abbr[n])}
        if any(str(y) in text for y in {y for y, _ in spanned}) and (
                (w.start, w.end) == ((1, 1), (12, 31)) or any(re.search(rf"\b{m}\b", text) for m in names)):
            return True
    return False
