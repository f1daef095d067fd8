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

EDGE = 3  # lines at the top and at the bottom of a page where running headers and footers sit
MIN_PAGES = 3  # fewer pages than this give no evidence that a line runs over them
SHORT_LINE_WORDS = 6
# A line that stops this short of the page's measure (its full lines' width) ends a paragraph or is a
# heading, unless the next line carries its sentence on.
PARAGRAPH_END = 0.7
_NUMBERS = re.compile(r"\d+")
# A page's text that ends in one of these ended its sentence (or its heading's quote, list, note).
_SENTENCE_ENDS = tuple(".!?:;\"”’)]…")
# Nothing new opens with these: a line that does carries on the one before it (text after a
# superscript note mark that pypdf put on a line of its own, "…Bakhmut" / "12" / ", according to").
_CONTINUING = frozenset(",.;:)]}%")
_OPEN_WORDS = frozenset("a an the of to in on at by for from with into onto than that which who whom whose and or "
                        "but nor as about near between among against toward towards via per its their his her "
                        "our your is are was were be been has have had will would".split())
_BROKEN_HEAD = re.compile(r"([^\W_]+)-$")  # a line ending in a word (or a number) and a hyphen
_BROKEN_TAIL = re.compile(r"([^\W_]+)(\S*)(.*)$", re.S)  # the word's end, its punctuation, the rest
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _key(line: str) -> str:
    """A line as compared across pages. A short one ("Page 3 of 12", "ISW | 7") is compared with its
    numbers aside; a longer one must recur as it is, since "Day 3: 14 strikes on Kharkiv" and "Day 4:
    9 strikes on Kharkiv" are text."""
    line = " ".join(line.split()).casefold()
    numbered = _NUMBERS.sub("#", line)
    return numbered if len(numbered.replace("#", " ").split()) <= SHORT_LINE_WORDS else line


def drop_running_lines(pages: list[str]) -> list[str]:
    """Each page without the lines at its top or bottom that recur there, numbers aside, on at least
    half of the pages (and on three): running titles, "Page 3 of 12", copyright lines, page numbers.
    Only lines that sit at an edge are dropped, and only as a run from the edge inwards."""
    lines = [page.splitlines() for page in pages]
    filled = [[i for i, line in enumerate(page) if line.strip()] for page in lines]
    pages_with_text = sum(1 for f in filled if f)
    if pages_with_text < MIN_PAGES:
        return pages
    counts: Counter[str] = Counter()
    for page, idx in zip(lines, filled, strict=True):
        counts.update({_key(page[i]) for i in idx[:EDGE] + idx[-EDGE:]})
    need = max(MIN_PAGES, (pages_with_text + 1) // 2)
    running = {key for key, n in counts.items() if n >= need}
    if not running:
        return pages
    out = []
    for page, idx in zip(lines, filled, strict=True):
        top = 0
        while top < min(EDGE, len(idx)) and _key(page[idx[top]]) in running:
            top += 1
        bottom = len(idx)
        while bottom > max(top, len(idx) - EDGE) and _key(page[idx[bottom - 1]]) in running:
            bottom -= 1
        dropped = {idx[i] for i in range(top)} | {idx[i] for i in range(bottom, len(idx))}
        out.append("\n".join(line for i, line in enumerate(page) if i not in dropped))
    # Pages that are nothing but the same lines (a form printed three times) have no running lines:
    # they are all the text there is.
    return out if any(page.strip() for page in out) else pages


def continues(before: str, after: str) -> bool:
    """True when a page opens in the middle of the sentence that the page before it ended in: the
    earlier text ends without a sentence's end and the later one opens in lower case, or the earlier
    ends on a comma, on a word broken by a hyphen, or on a word that never ends a sentence or a
    heading ("of", "the", "and")."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or before.endswith(_SENTENCE_ENDS):
        return False
    last = before.rsplit(None, 1)[-1]
    return (after[0].islower() or after[0] in _CONTINUING or before.endswith(",") or last in _OPEN_WORDS
            or bool(_BROKEN_HEAD.search(last)))


def mend_hyphens(pages: list[str], known: Callable[[str], bool]) -> list[str]:
    """Words broken at a line's end by a hyphen made whole: "offen-" over "sive" is "offensive",
    while a compound keeps its hyphen ("Russian-" over "backed" is "Russian-backed"). Typesetters
    hyphenate between lower-case letters only, so "pro-" over "Kremlin" and "2019-" over "2023"
    keep theirs. Between lower-case letters, which is which: how the report spells the word
    elsewhere (whole, or with the hyphen); failing that, whether ``known`` (an English word list)
    holds the whole word; failing that, the hyphen stays, as printed. A dash after a space is left."""
    lines: list[list[str | None]] = [list(page.split("\n")) for page in pages]
    spelt = {w.casefold() for w in _WORDS.findall("\n".join(pages))}
    filled = [(p, i) for p, page in enumerate(lines) for i, line in enumerate(page) if line and line.strip()]
    for (pa, ia), (pb, ib) in pairwise(filled):
        before, after = (lines[pa][ia] or "").rstrip(), (lines[pb][ib] or "").lstrip()
        head, tail = _BROKEN_HEAD.search(before), _BROKEN_TAIL.match(after)
        if not head or not tail:
            continue
        whole = head.group(1) + tail.group(1)
        dashed = f"{head.group(1)}-{tail.group(1)}"
        if not (head.group(1)[-1].islower() and tail.group(1)[0].islower()) or (
                whole.casefold() not in spelt and (dashed.casefold() in spelt or not known(whole.casefold()))):
            whole = dashed
        lines[pa][ia] = before[:head.start(1)] + whole + tail.group(2)
        lines[pb][ib] = tail.group(3).lstrip() or None  # a line that held only the word's end is gone
    return ["\n".join(line for line in page if line is not None) for page in lines]


def mark_paragraphs(page: str) -> str:
    """A page's lines with a blank line after each one that ends a paragraph or is a heading.

    pypdf keeps no vertical space, so a page came out as one paragraph and its headings ran into
    the sentences under them ("Key Takeaways Russian forces…"). Typeset text gives it away: a
    paragraph's last line, and a heading, stop short of the measure, where the lines inside a
    paragraph run to it. A short line whose sentence goes on (see ``continues``) is no break, nor is
    one next to a line that is a bare number (a superscript note mark on a line of its own)."""
    lines = page.split("\n")
    widths = sorted(len(line.strip()) for line in lines if len(line.split()) >= 3)
    if len(widths) < 4:
        return page
    measure = widths[len(widths) * 3 // 4]
    out = []
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        out.append(line)
        text, following = line.strip(), after.strip()
        if (text and following and len(text) < PARAGRAPH_END * measure and not continues(text, following)
                and not text.isdigit() and not following.isdigit()):  # note marks, figures: no paragraph
            out.append("")
    return "\n".join(out)
