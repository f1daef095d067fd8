"""PDF pages made into a report's text: the lines that run over every page dropped, and a sentence
that a page break cut made whole again.

pypdf gives each page's text as it is drawn, so a report's running header ("Russian Offensive
Campaign Assessment, March 3, 2023"), its footer ("Page 3 of 12", "© 2023 ISW") and its page
numbers sit inside the text, and a quote of a page's first sentence opened with them. Justified
text also breaks words at line ends ("offen-" / "sive"), which no search for "offensive" found.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from itertools import pairwise

EDGE = 4  # lines at the top and at the bottom of a page where running headers and footers sit
MIN_PAGES = 3  # fewer pages than this give no evidence that a line runs over them
RUNNING_MAX = 300  # characters: running heads and feet are short lines
# A line that stops this short of the page's measure (its full lines' width) ends a paragraph or is a
# heading, unless the next line carries its sentence on.
PARAGRAPH_END = 0.7
SENTENCE_END_SHORT = 0.85
# Whole numbers, not the parts of a figure ("1.0", "-6.5", "3,400"): a page number is one of these.
_NUMBERS = re.compile(r"(?<![\d.,])\d+(?![\d]|[.,]\d)")
_DIVIDERS = " |-–—·•()[]/"
_PAGE = r"(?:\bpage|\bp\.|\bpg\.?|\bseite|\bстр\.?|\bстраница)\s*"
_PAGE_LABEL = re.compile(_PAGE + "#", re.IGNORECASE)  # in a line's key: "page #"
_PAGE_WORD = re.compile(_PAGE + "$", re.IGNORECASE)  # just before a number
# A page's text that ends in one of these ended its sentence (or its heading's quote, list, note).
_SENTENCE_ENDS = tuple(".!?:;\"”’)]…")
# Nothing new opens with these: a line that does carries on the one before it (text after a
# superscript note mark that pypdf put on a line of its own, "…Bakhmut" / "12" / ", according to").
_CONTINUING = frozenset(",.;:)]}%")
_OPEN_WORDS = frozenset("a an the of to in on at by for from with into onto than that which who whom whose and or "
                        "but nor as about near between among against toward towards via per its their his her "
                        "our your is are was were be been has have had will would".split())
# Patterns run on untrusted text, so none may rescan a long run of letters from each of its
# positions: a broken word's head is sought in the last WORD_MAX characters before the hyphen only.
WORD_MAX = 80
_BROKEN_HEAD = re.compile(r"([^\W_]+)-$")  # a line ending in a word (or a number) and a hyphen
_BROKEN_TAIL = re.compile(r"([^\W_]*)(\S*)(.*)$", re.S)  # the word's end, its punctuation, the rest
_LINE_BREAK_HYPHEN = re.compile(r"-[ \t]*\n")
_LETTERS_AT_END = re.compile(r"[^\W\d_]+$")
_LETTERS_AT_START = re.compile(r"\s*([^\W\d_]+)")
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _exact(line: str) -> str:
    return " ".join(line.split()).casefold()


def _recurs(on: set[int], pages: list[int]) -> bool:
    """Whether a line found at the edge of the pages ``on`` runs over the document's ``pages``: on
    half of them (and on MIN_PAGES), or on half of the odd or of the even ones, as facing pages
    alternate their running heads ("Iran Update" left, "March 3, 2023" right)."""
    if len(on) >= max(MIN_PAGES, (len(pages) + 1) // 2):
        return True
    if len(pages) < 2 * MIN_PAGES - 2:
        return False
    for parity in (0, 1):
        side = [p for p in pages if p % 2 == parity]
        hits = sum(1 for p in on if p % 2 == parity)
        if hits >= max(2, (len(side) + 1) // 2) and hits >= 0.8 * len(on):
            return True
    return False


def _numbers(line: str) -> list[tuple[int, bool]]:
    """The numbers in a line, each with whether it stands where a page number does: at the line's
    start or end (dividers aside: "2 | ISW", "Assessment | 7") or after "page" ("Page 3 of 12")."""
    out = []
    for m in _NUMBERS.finditer(line):
        before, after = line[:m.start()].strip(_DIVIDERS), line[m.end():].strip(_DIVIDERS + ".")
        out.append((int(m.group()[:9]), not before or not after or bool(_PAGE_WORD.search(before))))
    return out


def _page_number(key: str, seen: list[tuple[int, list[tuple[int, bool]]]], pages: list[int]) -> tuple[int, int] | None:
    """For a line found at page edges with numbers that vary (``(page index, its numbers)`` each), the
    position of the number that counts the pages (printed number = page index + 1 + offset, the
    same offset everywhere, never ahead of the page: a cover or front matter goes unnumbered) and
    that offset; None when no number placed like a page number counts pages ("Day 1: 11 strikes…",
    "Day 2: 9 strikes…" is text, and so are dates: "March 3", "March 4"). Two pages are enough for
    a line that says "page"."""
    counts = {len(nums) for _, nums in seen}
    if len(counts) != 1:
        return None
    labelled = bool(_PAGE_LABEL.search(key))  # "Page # of #": two pages are evidence enough
    for j in range(counts.pop()):
        placed = [(p, nums[j][0]) for p, nums in seen if nums[j][1]]
        if not placed:
            continue
        offset, _ = Counter(n - p - 1 for p, n in placed).most_common(1)[0]
        on = {p for p, n in placed if n - p - 1 == offset}
        if offset <= 0 and (_recurs(on, pages) or (len(on) == len(pages) == 2 and offset == 0 and labelled)):
            return j, offset
    return None


def drop_running_lines(pages: list[str]) -> list[str]:
    """Each page without the running lines at its top and bottom: lines that recur there on half the
    pages (see ``_recurs``) as they are (a running title, "© 2023 ISW"), or that differ only by a
    number counting the pages ("Page 3 of 12", "Assessment | March 3, 2023 | 7", a bare page
    number). Only lines among the EDGE outermost ones go, and only as a run from the edge inwards.
    The first page keeps its top lines that are not page numbers: a running title there is the title.
    Figures in a table at a page's edge ("41", "-7.4") count nothing and stay."""
    lines = [page.splitlines() for page in pages]
    filled = [[i for i, line in enumerate(page) if line.strip()] for page in lines]
    with_text = [p for p, idx in enumerate(filled) if idx]
    if len(with_text) < 2:
        return pages
    exact_on: dict[str, set[int]] = {}
    numbered_on: dict[str, list[tuple[int, list[tuple[int, bool]]]]] = {}
    for p in with_text:
        idx = filled[p]
        edge = {lines[p][i] for i in idx[:EDGE] + idx[-EDGE:] if len(lines[p][i]) <= RUNNING_MAX}
        for key in {_exact(line) for line in edge}:
            exact_on.setdefault(key, set()).add(p)
        for line in sorted(edge):  # every line of a page with the same shape ("41", "91" and "1") counts
            if _NUMBERS.search(line):
                numbered_on.setdefault(_NUMBERS.sub("#", _exact(line)), []).append((p, _numbers(line)))
    running = {key for key, on in exact_on.items() if _recurs(on, with_text)}
    counting = {key: found for key, seen in numbered_on.items() if (found := _page_number(key, seen, with_text))}
    if not running and not counting:
        return pages

    def runs(p: int, line: str) -> bool:
        if len(line) > RUNNING_MAX:
            return False
        key = _exact(line)
        if key in running:
            return True
        found = counting.get(_NUMBERS.sub("#", key))
        if found is None:
            return False
        nums = _numbers(line)
        return len(nums) > found[0] and nums[found[0]][1] and nums[found[0]][0] - p - 1 == found[1]

    out, any_body = [], False
    for p, (page, idx) in enumerate(zip(lines, filled, strict=True)):
        top = 0
        while top < min(EDGE, len(idx)) and runs(p, page[idx[top]]):
            top += 1
        bottom = len(idx)
        while bottom > max(top, len(idx) - EDGE) and runs(p, page[idx[bottom - 1]]):
            bottom -= 1
        # The first page keeps its running title (not its page number), each line a paragraph of its
        # own, so that it never runs into a sentence.
        title = [page[idx[i]] for i in range(top) if _exact(page[idx[i]]) in running] if p == with_text[0] else []
        body = [page[i] for i in range(idx[top], idx[bottom - 1] + 1)] if top < bottom else []
        out.append("\n\n".join([*title, "\n".join(body)]) if title else "\n".join(body))
        any_body = any_body or any(line.strip() for line in body)
    # Pages that are nothing but the same lines (a form printed three times) have no running lines:
    # they are all the text there is.
    return out if any_body else pages


def continues(before: str, after: str) -> bool:
    """True when a page opens in the middle of the sentence that the page before it ended in: the
    earlier text ends without a sentence's end and the later one opens in lower case, or the earlier
    ends on a comma, on a word broken by a hyphen, or on a word that never ends a sentence or a
    heading ("of", "the", "and")."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or before.endswith(_SENTENCE_ENDS):
        return False
    last = before.rsplit(None, 1)[-1].casefold()
    return (after[0].islower() or after[0] in _CONTINUING or before.endswith(",") or last in _OPEN_WORDS
            or _broken_head(last) is not None)


def _broken_head(line: str) -> re.Match[str] | None:
    """The word before a hyphen that ends ``line`` (sought in its last WORD_MAX characters only)."""
    return _BROKEN_HEAD.search(line[-WORD_MAX:]) if line.endswith("-") else None


def _compound(head: str, tail: str, spelt: set[str], known: Callable[[str], bool]) -> bool:
    """Whether "head-" over "tail" is a compound, whose hyphen stays, rather than a word broken by
    the typesetter: the report's own spelling first (whole, or with the hyphen); then whether the
    whole is an English word (a break) or both parts are words (a compound: "long-range"); else a
    break ("milblog-" over "gers" is "milbloggers", "Kremin-" over "na" is "Kreminna")."""
    whole, dashed = head + tail, f"{head}-{tail}"
    if whole in spelt or dashed in spelt:
        return dashed in spelt and whole not in spelt
    if known(whole):
        return False
    return all(known(part) or part in spelt for part in (head, tail))


def mend_hyphens(pages: list[str], known: Callable[[str], bool]) -> list[str]:
    """Words broken at a line's end by a hyphen made whole: "offen-" over "sive" is "offensive",
    while a compound keeps its hyphen ("Russian-" over "backed" is "Russian-backed"; see
    ``_compound``, with ``known`` an English word list). Typesetters hyphenate between lower-case
    letters only, so "pro-" over "Kremlin" and "2019-" over "2023" keep theirs. A dash after a
    space is left."""
    lines: list[list[str | None]] = [list(page.split("\n")) for page in pages]
    # Words as the report spells them away from line breaks: the pieces of the broken words are no
    # evidence ("milblog" and "gers" are found only at the break that made them).
    text = "\n".join(pages)
    pieces: Counter[str] = Counter()
    for m in _LINE_BREAK_HYPHEN.finditer(text):
        if head := _LETTERS_AT_END.search(text, max(0, m.start() - WORD_MAX), m.start()):
            pieces[head.group().casefold()] += 1
        if tail := _LETTERS_AT_START.match(text, m.end(), m.end() + WORD_MAX):
            pieces[tail.group(1).casefold()] += 1
    found = Counter(part for w in _WORDS.findall(text) for part in {w.casefold(), *w.casefold().split("-")})
    spelt = {w for w, n in found.items() if n > pieces[w]}
    filled = [(p, i) for p, page in enumerate(lines) for i, line in enumerate(page) if line and line.strip()]
    for (pa, ia), (pb, ib) in pairwise(filled):
        before, after = (lines[pa][ia] or "").rstrip(), (lines[pb][ib] or "").lstrip()
        head, tail = _broken_head(before), _BROKEN_TAIL.match(after)
        if not head or not tail or not tail.group(1):
            continue
        whole = head.group(1) + tail.group(1)
        dashed = f"{head.group(1)}-{tail.group(1)}"
        if not (head.group(1)[-1].islower() and tail.group(1)[0].islower()) or _compound(
                head.group(1).casefold(), tail.group(1).casefold(), spelt, known):
            whole = dashed
        lines[pa][ia] = before[:len(before) - len(head.group())] + whole + tail.group(2)
        lines[pb][ib] = tail.group(3).lstrip() or None  # a line that held only the word's end is gone
    return ["\n".join(line for line in page if line is not None) for page in lines]


def measure(pages: list[str]) -> int:
    """The width of a full line of the document's text (in characters): the upper quartile of its
    lines of three words or more; 0 when it has too few lines to tell."""
    widths = sorted(len(line.strip()) for page in pages for line in page.split("\n") if len(line.split()) >= 3)
    return widths[len(widths) * 3 // 4] if len(widths) >= 4 else 0


def _short(line: str, full: int) -> bool:
    """A line that stops short of the measure: a paragraph's last line or a heading. One that ends
    a sentence may stop nearer the measure, since a break after it cuts no sentence."""
    return len(line) < (SENTENCE_END_SHORT if line.endswith(_SENTENCE_ENDS) else PARAGRAPH_END) * full


def _heading(line: str, before: str, full: int) -> bool:
    """A short line standing after a finished sentence, opening in upper case, ending in no sentence
    mark: "Southern Axis" under a paragraph whose last line ran to the measure."""
    return (bool(line) and line[0].isupper() and len(line) < PARAGRAPH_END * full
            and not line.endswith((*_SENTENCE_ENDS, ",")) and before.endswith((".", "!", "?", "”", "\"")))


def mark_paragraphs(page: str, full: int) -> str:
    """A page's lines with a blank line after each one that ends a paragraph or is a heading, and
    before each heading.

    pypdf keeps no vertical space, so a page came out as one paragraph and its headings ran into
    the sentences under them ("Key Takeaways Russian forces…"). Typeset text gives it away: a
    paragraph's last line, and a heading, stop short of the measure ``full``, where the lines inside
    a paragraph run to it. A short line whose sentence goes on (see ``continues``) is no break, nor
    is one next to a line that is a bare number (a superscript note mark on a line of its own)."""
    if not full:
        return page
    lines = page.split("\n")
    out: list[str] = []
    before = ""
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        text, following = line.strip(), after.strip()
        if text and out and out[-1] and _heading(text, before, full) and not before.isdigit():
            out.append("")
        out.append(line)
        if (text and following and _short(text, full) and not continues(text, following)
                and not text.isdigit() and not following.isdigit()):  # note marks, figures: no paragraph
            out.append("")
        before = text or before
    return "\n".join(out)


def flows(pages: list[str], full: int) -> list[bool]:
    """For each page, whether its text carries on the paragraph that the page with text before it
    ended in: see ``continues``, or that page's last line ran to the measure without ending its
    sentence (a paragraph does not end on a full line)."""
    out, last = [], ""
    for page in pages:
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        if not lines:
            out.append(False)
            continue
        first = lines[0]
        out.append(bool(last) and (continues(last, first) or (
            bool(full) and len(last) >= PARAGRAPH_END * full and not last.endswith(_SENTENCE_ENDS)
            and not _heading(first, ".", full))))
        last = lines[-1]
    return out


def read(pages: list[str], known: Callable[[str], bool]) -> tuple[list[str], list[bool]]:
    """PDF pages as pypdf extracts them, made into the report's text: running lines dropped,
    paragraphs and headings marked, hyphenated words mended; and for each page whether it carries
    on the paragraph of the page before it (``normalize.join``'s ``carries_on``)."""
    pages = drop_running_lines(pages)
    full = measure(pages)
    pages = [mark_paragraphs(page, full) for page in pages]
    carried = flows(pages, full)
    return mend_hyphens(pages, known), carried
