"""Questions that name no subject ("What's the latest?", "Any news?", "Summarize the April 24
assessment"): the opening passages of the report they point at, each quoted at its key sentence.

A search for such a question has nothing to match: its only words frame the request, and the gate
rightly finds no passage about them. What the reader wants is the report itself, and reports put
what matters first (a news lead, an assessment's top findings), so the answer is the report's
passages in its own order, skipping boilerplate. No text is written: every quote is the report's.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import date

import numpy as np

from .answer import QUOTE_MAX, SHORT_QUOTE, after_glued_heads, best_window, distinct, words_of
from .catalog import Catalog, ReportRecord
from .embed import chunk_vectors
from .keyword import FRAMING, question_words
from .rows import Row, RowCache
from .types import Passage
from .when import LAG_DAYS, Window, date_words, windows

# Words that ask for a report, a summary or the news rather than name a subject. With FRAMING (the
# latest, news, happening, …) they are all a digest question may hold besides the dates it names.
DIGEST_WORDS = frozenset(
    "summary summaries summarize summarise summarized summarised sum up recap rundown brief briefing briefly "
    "overview key main top important biggest major headline headlines highlight highlights takeaway takeaways "
    "point points report reports reported reporting assessment assessments update development developments "
    "situation events event story stories give show yesterday tonight overnight morning evening right day days "
    "daily week weeks weekend month months moment present from last past interesting notable noteworthy "
    "significant something everything tldr tl dr assess assessed assesses write wrote written note noted "
    "publish published since after before until till prior through between".split()
)
_WORD = re.compile(r"\w+")
# A lead is a sentence: it ends as one (a heading or a title does not).
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s*$")
# A sentence of fewer words is a heading, a dateline or a place list's entry: never a lead.
MIN_WORDS = 8
# A sentence whose cosine to its chunk's vector is under this share of the chunk's best is off its
# subject: a note on the maps, a disclaimer. In the ISW assessments (all-MiniLM-L6-v2) leads sit at
# 0.55-0.85 of 0.8-0.9 best, their map notes at 0.15-0.18. A share, not a cosine: models differ in scale.
MIN_COS_SHARE = 0.5
# A lead shared with one of this many of the publisher's reports on either side is boilerplate: ISW
# repeats a note on its map archive every few reports, not daily.
NEIGHBOURS = 2
# Chunks read past those shown, for the ones that hold only boilerplate or repeat a quote shown.
SPARE_CHUNKS = 8


def asks_digest(question: str, named: Set[str] = frozenset()) -> bool:
    """True when every word of the question frames a request for reports or news, is a date it
    names or one of ``named`` (``publisher_words``: "What did ISW assess on March 21?"), and at least
    one word frames ("What's new?"; not "Why?", which asks nothing)."""
    dated = {token for _, token in question_words(date_words(question))}
    content = [w for w, token in question_words(question)
               if token not in dated and w not in DIGEST_WORDS and w not in named]
    asked = any(w in FRAMING or w in DIGEST_WORDS for w in _WORD.findall(question.lower()))
    return not content and (asked or bool(dated))


def publisher_words(publishers: Iterable[str | None]) -> frozenset[str]:
    """The words of publishers' names and their acronyms ("Institute for the Study of War": "isw")."""
    out: set[str] = set()
    for name in filter(None, set(publishers)):
        words = _WORD.findall(name)
        out.update(w.lower() for w in words)
        out.add("".join(w[0] for w in words if w[0].isupper()).lower())
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Digest:
    """The passages a digest question gets and a line saying what they are; with no passages, why
    not when the question named a period with no report in it, else "" (it is searched instead)."""

    passages: list[Passage]
    note: str


def digest(catalog: Catalog, rows: RowCache, allowed: Set[str], question: str, n: int, dim: int,
           since: str | None = None) -> Digest:
    """The first ``n`` passages of the newest allowed report or, when the question names a period (or
    the latest ``since`` a date: "the past two weeks"), of the reports dated in it (each one's first,
    oldest report first, or newest first for a span ``since``, then each one's second, …). No
    passages, and a note saying so, when the period holds no report."""
    first = date.fromisoformat(since) if since else None
    periods = [Window(first.year, (first.month, first.day), (12, 31), "later")] if first else windows(question)
    picked = allowed
    for lag in (0, LAG_DAYS) if periods else ():  # the period's reports, else those of the days after it
        if picked := catalog.dated(functools.partial(_within, periods, lag)) & allowed:
            break
    if not picked:
        return Digest([], _none_dated(catalog, allowed, periods) if periods else "")
    records = (catalog.reports[rid] for rid in picked)
    # A span up to now ("the past two weeks") reads like a feed, newest first, so the first page shows
    # the latest days; a period named ("March 2023") reads in order, oldest first.
    reports = sorted(records, key=_order, reverse=bool(first)) if periods else [max(records, key=_order)]
    shown = reports[:n]
    per_report = math.ceil(n / len(shown)) + SPARE_CHUNKS
    read = shown + _neighbours(catalog, allowed, sorted(shown, key=_order))
    want = [f"{r.report_id}:{seq}" for r in read for seq in range(min(r.chunks, per_report))]
    got = rows.rows(want, catalog.generation, dim)
    leads = [[(cid, got[cid]) for seq in range(per_report) if (cid := f"{r.report_id}:{seq}") in got] for r in read]
    seen = [_sentences(row for _, row in chunks) for chunks in leads]
    cited = []
    for at, rec in enumerate(shown):
        others = set().union(*(s for i, s in enumerate(seen) if i != at))
        cited.append([c for cid, row in leads[at] if (c := _cite(rec, cid, row, others)) is not None])
    # Round robin: every report's first passage comes before any report's second.
    ordered = [cs[position] for position in range(per_report) for cs in cited if position < len(cs)]
    passages = distinct(ordered)[:n]
    if not passages:  # only headings and boilerplate: searched instead
        return Digest([], "")
    if len(shown) == len(reports):  # the note counts only the reports that have a passage to show
        reports = [rec for rec, cs in zip(shown, cited, strict=True) if cs]
    if len(reports) == 1:
        which = "the report" if periods else "the newest report"
        note = f"The opening passages of {which}, “{reports[0].title}” ({reports[0].date or 'undated'})."
    else:
        oldest, newest = min(reports, key=_order), max(reports, key=_order)
        note = (f"The opening passage of each of the {len(reports)} reports dated {oldest.date} to "
                f"{newest.date}, {'newest' if first else 'oldest'} first.")
    return Digest(passages, note)


def _within(periods: list[Window], lag: int, iso: str | None) -> bool:
    return any(w.contains(iso, lag) for w in periods)


def _none_dated(catalog: Catalog, allowed: Set[str], periods: list[Window]) -> str:
    """The refusal for a period no report is dated in, with the nearest report dates around it."""
    told = "The reports in the store don't say: none is dated in that period"
    if any(w.year is None for w in periods):
        return told + "."
    spans = [w.span() for w in periods]
    first, last = min(lo for lo, _ in spans), max(hi for _, hi in spans)
    dates = sorted({d for rid in allowed if (d := catalog.reports[rid].date)})
    near = [d for d in dates if d < first][-1:] + [d for d in dates if d > last][:1]
    return told + (f" (the nearest: {' and '.join(near)})." if near else ".")


def _order(rec: ReportRecord) -> tuple[str, float]:
    return rec.date or "", rec.added_at


def _neighbours(catalog: Catalog, allowed: Iterable[str], shown: list[ReportRecord]) -> list[ReportRecord]:
    """Up to NEIGHBOURS of the publisher's reports before the first shown and after the last: those
    its boilerplate is told apart with (a map note or byline repeated only now and then)."""
    first, last = shown[0], shown[-1]
    same = sorted((catalog.reports[rid] for rid in allowed if catalog.reports[rid].publisher == first.publisher),
                  key=_order)
    before = [r for r in same if _order(r) < _order(first)][-NEIGHBOURS:]
    after = [r for r in same if _order(r) > _order(last) and r not in shown][:NEIGHBOURS]
    return before + after


def _spans(row: Row) -> list[tuple[int, int]]:
    return [(int(s), int(e)) for s, e in json.loads(row.meta.get("sents") or "[]")]


def _sentences(rows: Iterable[Row]) -> set[str]:
    """The sentences of ``rows``, as compared for boilerplate (lower-cased words)."""
    out: set[str] = set()
    for row in rows:
        base = int(row.meta["start"])
        out.update(" ".join(words_of(row.text[s - base:e - base])) for s, e in _spans(row))
    return out


def _cite(rec: ReportRecord, chunk_id: str, row: Row, boilerplate: Set[str]) -> tuple[Passage, str] | None:
    """The chunk as a passage quoting its lead: the first sentence of MIN_WORDS or more that no
    neighbouring report shares and that keeps to the chunk's subject (see MIN_COS_SHARE), with the
    next one when it is short. Reports, like news, open each paragraph with the sentence that
    carries it; the most central sentence instead was often a detail ("It involves Belarusian
    elements deploying…" for "Belarusian forces remain unlikely to attack Ukraine…"). None when the
    chunk has no such sentence (a heading, a byline, a place list)."""
    base, text, spans = int(row.meta["start"]), row.text, _spans(row)
    if not spans or len(row.vectors) != len(spans):
        return None
    # The chunk's vector as stored (chunk_vectors), from the sentence vectors a row holds anyway.
    vector = chunk_vectors(row.vectors, np.zeros(len(spans), dtype=int), [e - s for s, e in spans], 1)[0]
    cosines = row.vectors @ vector
    title = " ".join(words_of(rec.title))
    leads = [i for i, (s, e) in enumerate(spans) if cosines[i] >= MIN_COS_SHARE * cosines.max()
             and _SENTENCE_END.search(text[s - base:e - base])
             and len(words := words_of(text[s - base:e - base])) >= MIN_WORDS
             and (said := " ".join(words)) not in boilerplate and said != title]
    if not leads:
        return None
    first = leads[0]
    (s, e), score = spans[first], float(cosines[first])
    s = after_glued_heads(text, base, s, e)
    if e - s < SHORT_QUOTE and first + 1 in leads and spans[first + 1][1] - s <= QUOTE_MAX:
        e = spans[first + 1][1]
    if e - s > QUOTE_MAX:
        s, e = best_window(text, base, s, e, ())
    quote = text[s - base:e - base]
    # The passage opens at its lead: what came before is what the lead skipped (the title, a heading,
    # a map note), which the citation or the context button shows anyway.
    return Passage(
        report_id=rec.report_id, title=rec.title, publisher=rec.publisher, date=rec.date, url=rec.url, path=rec.path,
        page=rec.page_at(s), start=s, end=base + len(text), text=text[s - base:], quote=quote, quote_start=s,
        quote_end=e, score=round(score, 4), chunk_id=chunk_id,
    ), quote
