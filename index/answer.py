"""From ranked chunks to cited passages: the quote inside each, and the refusal gate."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from .catalog import Catalog
from .embed import Gate
from .keyword import question_tokens, tokenize
from .search import Hit
from .types import Passage

# Refusal gate: a logistic model of "the store supports an answer" on the top hit's best-sentence
# cosine, question coverage and chunk cosine. Fitted by bench/gate.py on calibration data built for
# it (SQuAD tuning-split questions about stored vs held-out articles; tests/data/calibration_*.jsonl
# over ISW), never on reported questions. Answer when p >= 0.5, the model's own decision boundary.
# The weights belong to the embedding model (cosines mean different things under another model):
# each embedder carries its own ``gate``; these are all-MiniLM-L6-v2's.
MIN_SUPPORT = 0.5
QUOTE_MAX = 400
# A quote this short (a heading, "Xi agreed.") is joined with its better neighbour when both fit.
SHORT_QUOTE = 80
# A neighbour scoring within this much of the best sentence joins the quote when both fit: reports
# often name the subject in one sentence and give the answer in the next ("Zelensky condemned the
# shelling. He called on…"). Chosen on tuning data only (ISW calibration + tuning questions, 600
# SQuAD tuning-split questions): quote hit@1 0.477 -> 0.508 and 0.773 -> 0.798, +22 characters.
JOIN_MARGIN = 0.2
# A quote whose words run, in order, through this share of an already-shown quote (or that quote
# through this share of it) repeats it: "Key Takeaways" lines restate a sentence with a heading or a
# date around it, while formulaic sentences naming different places ("… attacks northeast of
# Bakhmut" / "… southwest of Kreminna") share well under this.
REPEAT_SHARE = 0.8
# Words whose change leaves a sentence saying the same thing (Lucene's English stop words but "no",
# "not" and "but"): a report restating its own sentence with one of them added or dropped ("Putin's
# commitment to and ability to deliver on his war promises" / "commitment and ability to deliver
# his war promises") repeats it, compared over its other words. Quotes of fewer other words than
# REPEAT_MIN_WORDS are compared whole only.
FUNCTION_WORDS = frozenset(
    "a an and are as at be by for if in into is it of on or such that the their then there these they "
    "this to was will with".split()
)
REPEAT_MIN_WORDS = 6
# Some exports join a heading or a dateline to the sentence after it with a bare comma ("Key
# Takeaways,Russian forces…", "April 13, 4:30pm ET,Russian claims…"; ISW has about 970 such joins
# in 106 reports, and 6% of the quotes shown for its tuning questions began with one). Prose puts a
# space after a comma, so a quote starts after such a head (or after the bare comma a sentence split
# left in front of one): the sentence the reader wants.
_GLUED_HEAD = re.compile(r"(?:[,;]+\s*|(?:[^,.!?\n]|, ){0,149}?[^\s\d,.!?][,;]+)(?=[“\"‘]?[A-Z])")
_WORD = re.compile(r"\S+")
_NON_WORD = re.compile(r"\W+")


def support(gate: Gate, sentence_cos: float, coverage: float, chunk_cos: float) -> float:
    """Probability (0..1) that the best passage supports an answer."""
    weights, bias = gate
    z = bias + sum(w * x for w, x in zip(weights, (sentence_cos, coverage, chunk_cos), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def build_passages(catalog: Catalog, hits: Sequence[Hit], question: str) -> list[tuple[Passage, str]]:
    """One passage per hit, with the sentence(s) that best answer the question as its quote; each
    paired with its core, the best sentence alone (the quote may add a neighbour to it)."""
    if not hits:
        return []
    tokens = question_tokens(question)
    out = []
    for hit in hits:
        if hit.meta is None or hit.report_id not in catalog.reports:
            continue
        start, end, text = int(hit.meta["start"]), int(hit.meta["end"]), hit.text
        rec = catalog.reports[hit.report_id]
        spans, scores = list(hit.sentences), untitled(text, start, list(hit.sentences), list(hit.sentence_scores),
                                                     rec.title)
        q_start, q_end = pick_quote(text, start, spans, scores, tokens)
        c_start, c_end = spans[int(np.argmax(scores))] if spans else (q_start, q_end)
        out.append((Passage(
            report_id=rec.report_id, title=rec.title, publisher=rec.publisher, date=rec.date, url=rec.url,
            path=rec.path, page=rec.page_at(q_start), start=start, end=end, text=text,
            quote=text[q_start - start:q_end - start], quote_start=q_start, quote_end=q_end,
            score=round(hit.score, 4), chunk_id=hit.chunk_id,
        ), text[c_start - start:c_end - start]))
    return out


def untitled(text: str, base: int, spans: list[tuple[int, int]], scores: list[float], title: str) -> list[float]:
    """``scores`` with the report's title line (a heading the report opens with) never the quote,
    nor joined to it: the citation names the title already, and a question's date words ("in June
    2022") made "Russian Offensive Campaign Assessment, June 26, 2022" the best sentence of its
    chunk (10 of 645 quotes for the ISW tuning questions held a title)."""
    # Only a sentence about as long as the title can be it: the others are not split into words.
    near = [i for i, (s, e) in enumerate(spans) if abs(e - s - len(title)) <= len(title) // 2 + 2]
    named = words_of(title) if near else []
    drop = [i for i in near if words_of(text[spans[i][0] - base:spans[i][1] - base]) == named]
    if not named or not drop or len(drop) == len(spans):
        return scores
    return [-math.inf if i in drop else x for i, x in enumerate(scores)]


def pick_quote(text: str, base: int, spans: list[tuple[int, int]], scores: list[float], tokens: Sequence[str],
               ) -> tuple[int, int]:
    """Absolute ``(start, end)`` of the best sentence, widened or trimmed to at most QUOTE_MAX chars."""
    if not spans:
        return base, base + min(len(text), QUOTE_MAX)
    best = int(np.argmax(scores))
    s, e = spans[best]
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(spans) and scores[i] > -math.inf
                  and max(e, spans[i][1]) - min(s, spans[i][0]) <= QUOTE_MAX
                  and (e - s < SHORT_QUOTE or scores[i] >= scores[best] - JOIN_MARGIN)]
    if neighbours:
        n = max(neighbours, key=lambda i: scores[i])
        s, e = min(s, spans[n][0]), max(e, spans[n][1])
    s = after_glued_heads(text, base, s, e)
    if e - s > QUOTE_MAX:
        s, e = best_window(text, base, s, e, tokens)
    return s, e


def after_glued_heads(text: str, base: int, start: int, end: int) -> int:
    """``start`` moved past the headings glued by a bare comma to the front of ``[start, end)``, as
    long as a sentence's worth (SHORT_QUOTE / 2 characters) is left after them."""
    while (m := _GLUED_HEAD.match(text, start - base, end - base)) and end - base - m.end() >= SHORT_QUOTE // 2:
        start = base + m.end()
    return start


def best_window(text: str, base: int, start: int, end: int, tokens: Sequence[str]) -> tuple[int, int]:
    """The QUOTE_MAX-char window of whole words inside ``[start, end)`` holding most question terms."""
    wanted = set(tokens)
    words = [(m.start() + base, m.end() + base, m.group()) for m in _WORD.finditer(text, start - base, end - base)]
    hits = [1 if set(tokenize(w)) & wanted else 0 for _, _, w in words]
    best, best_span = -1, (start, min(end, start + QUOTE_MAX))
    j = 0
    total = 0
    for i in range(len(words)):
        while j < len(words) and words[j][1] - words[i][0] <= QUOTE_MAX:
            total += hits[j]
            j += 1
        if total > best and j > i:
            best, best_span = total, (words[i][0], words[j - 1][1])
        total -= hits[i] if j > i else 0
        j = max(j, i + 1)
    return best_span


def distinct(cited: Sequence[tuple[Passage, str]]) -> list[Passage]:
    """Passages in rank order, without those that would show a reader a quote shown already.

    ISW-style reports repeat their own sentences (a "Key Takeaways" list restates the prose) and
    daily reports repeat each other's; the same sentence twice tells a reader nothing, so that slot
    goes to the next passage instead. Quotes are compared whole and by their cores (``cited`` pairs
    each passage with its best sentence): a repeated sentence joined with a different neighbour in
    each report is still the same answer. A core too short to stand alone (a heading, which names no
    answer of its own) is compared with the neighbour it is quoted with, as the whole quote.
    """
    kept: list[Passage] = []
    shown: list[tuple[_Bag, _Bag]] = []
    for p, core in cited:
        quote = _Bag.of(p.quote)
        best = _Bag.of(core) if len(core) >= SHORT_QUOTE else quote
        if quote.words and any(quote.repeats(other_quote) or best.repeats(other_best)
                               for other_quote, other_best in shown):
            continue
        kept.append(p)
        shown.append((quote, best))
    return kept


def repeats(a: Sequence[str], b: Sequence[str], bag_a: Counter[str] | None = None,
            bag_b: Counter[str] | None = None) -> bool:
    """True when one quote's words run, in order, through REPEAT_SHARE of the shorter quote.

    The words the two have in common (``bag_a & bag_b``, as counted) bound any common run: quotes that
    share too few are told apart without the longest-match search."""
    shorter = min(len(a), len(b))
    if not shorter:
        return False
    common = (bag_a or Counter(a)) & (bag_b or Counter(b))
    if sum(common.values()) < REPEAT_SHARE * shorter:
        return False
    run = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size
    return run >= REPEAT_SHARE * shorter


def words_of(text: str) -> list[str]:
    """Lower-cased words, punctuation dropped, for comparing quotes."""
    return _NON_WORD.sub(" ", text).casefold().split()


@dataclass(frozen=True, slots=True)
class _Bag:
    """A quote's words in order, and counted."""

    words: list[str]
    counts: Counter[str]
    content: list[str]  # without FUNCTION_WORDS
    content_counts: Counter[str]

    @classmethod
    def of(cls, text: str) -> _Bag:
        words = words_of(text)
        content = [w for w in words if w not in FUNCTION_WORDS]
        return cls(words, Counter(words), content, Counter(content))

    def repeats(self, other: _Bag) -> bool:
        if repeats(self.words, other.words, self.counts, other.counts):
            return True
        return (min(len(self.content), len(other.content)) >= REPEAT_MIN_WORDS
                and repeats(self.content, other.content, self.content_counts, other.content_counts))
