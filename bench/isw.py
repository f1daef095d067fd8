"""ISW: natural briefing questions over the ISW assessments plus the sample news item.

A hit: a returned passage contains one of the question's evidence strings, both sides put through
``common.norm`` (markdown links/emphasis dropped, comma runs and whitespace collapsed).
A quote hit: the first quote contains an evidence string, or the quote and an evidence string
share a contiguous run of at least 60% of that evidence string's characters (a quote is capped at
400 characters, so a long evidence sentence can only be partly inside it).
Off-topic questions must be refused; a refused ISW question is a false refusal.

A report often states a finding twice, in its "Key Takeaways" and again in the prose, with a word
or two changed ("are" / "is"). Evidence is labelled once; each sentence of the question's own report
that restates it (the two share a run, in order, of at least RESTATED of the longer one's words,
counted over all words or over words but function words, the rule briefbot uses to drop a repeated
quote) counts as evidence too, for every system alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import sentencex

from index.answer import FUNCTION_WORDS, REPEAT_MIN_WORDS, words_of

from .common import (
    ISW_DIR,
    ISW_QUESTIONS,
    ISW_QUESTIONS_B,
    OFFTOPIC_QUESTIONS,
    OFFTOPIC_QUESTIONS_B,
    SAMPLE,
    K,
    Ranked,
    norm,
    ranked_metrics,
)
from .systems import Result, Source

QUOTE_OVERLAP = 0.60
RESTATED = 0.8


@dataclass(frozen=True, slots=True)
class Question:
    """One ISW question and the evidence any correct passage contains."""

    id: str
    question: str
    evidence: tuple[str, ...]  # as labelled, then its restatements in the same report
    file: str | None
    labelled: int = 1  # how many of ``evidence`` the question file gives


def corpus_files(quick: bool = False) -> list[Path]:
    """The ISW assessments (sorted) and the sample; ``quick``: every 6th assessment a question cites."""
    files = sorted(ISW_DIR.glob("*.md"))
    if quick and available():
        cited = sorted({q.file for q in load_questions() if q.file and (ISW_DIR / q.file).exists()})
        files = [ISW_DIR / name for name in cited[::6]]
    elif quick:
        files = files[::12]
    return files + [SAMPLE]


def available() -> bool:
    """True when both question files exist."""
    return ISW_QUESTIONS.exists() and OFFTOPIC_QUESTIONS.exists()


def question_sets() -> list[tuple[str, list[Question], list[tuple[str, str]]]]:
    """``(name, questions, off-topic)`` for set A and, where its files exist, set B."""
    sets = [("A", load_questions(), load_offtopic())]
    if ISW_QUESTIONS_B.exists() and OFFTOPIC_QUESTIONS_B.exists():
        sets.append(("B", load_questions(ISW_QUESTIONS_B), load_offtopic(OFFTOPIC_QUESTIONS_B)))
    return sets


def load_questions(path: Path = ISW_QUESTIONS) -> list[Question]:
    """ISW questions from JSONL ``{id, question, evidence: [...], file}``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            ev = r.get("evidence") or []
            ev = [ev] if isinstance(ev, str) else list(ev)
            file = r.get("file")
            out.append(Question(str(r["id"]), r["question"], tuple(ev + restatements(ev, file)), file,
                                len(ev)))
    return out


def restatements(evidence: Sequence[str], file: str | None) -> list[str]:
    """The sentences of ``file`` (an ISW report) that restate an evidence string but are not it."""
    path = ISW_DIR / file if file else None
    if not evidence or path is None or not path.exists():
        return []
    wanted = [norm(e) for e in evidence]
    bags = [_words(e) for e in wanted]
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for sentence in sentencex.segment("en", norm(line)):
            s = sentence.strip()
            if s and s not in out and not any(s in e or e in s for e in wanted) and any(
                    _restates(_words(s), b) for b in bags):
                out.append(s)
    return out


def _words(text: str) -> tuple[list[str], list[str]]:
    words = words_of(text)
    return words, [w for w in words if w not in FUNCTION_WORDS]


def _restates(a: tuple[list[str], list[str]], b: tuple[list[str], list[str]]) -> bool:
    """A run of RESTATED of the longer one's words, over all words or over the other words."""
    for n, (x, y) in enumerate(zip(a, b, strict=True)):
        if x and y and (n == 0 or min(len(x), len(y)) >= REPEAT_MIN_WORDS):
            run = SequenceMatcher(None, x, y, autojunk=False).find_longest_match(0, len(x), 0, len(y)).size
            if run >= RESTATED * max(len(x), len(y)):
                return True
    return False


def load_offtopic(path: Path = OFFTOPIC_QUESTIONS) -> list[tuple[str, str]]:
    """Off-topic ``(id, question)`` pairs."""
    return [(str(r["id"]), r["question"]) for r in
            (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())]


def sources(files: Sequence[Path]) -> list[Source]:
    """The raw file texts, as a plain LangChain user's loader reads them."""
    return [Source(f.name, f.read_text(encoding="utf-8")) for f in files]


def quote_hit(quote: str, evidence: Sequence[str]) -> bool:
    """The quote contains an evidence string, or shares >= 60% of one as a contiguous run."""
    q = norm(quote)
    for ev in evidence:
        e = norm(ev)
        if not e:
            continue
        if e in q:
            return True
        m = SequenceMatcher(None, q, e, autojunk=False).find_longest_match(0, len(q), 0, len(e))
        if m.size >= QUOTE_OVERLAP * len(e):
            return True
    return False


def score(q: Question, result: Result, k: int = K) -> Ranked:
    """Rank of the first passage holding evidence, and the first quote's hit."""
    evidence = [norm(e) for e in q.evidence if norm(e)]
    rank = 0
    if result.answered:
        for n, h in enumerate(result.hits[:k], 1):
            text = norm(h.text)
            if any(e in text for e in evidence):
                rank = n
                break
    first = result.hits[0] if result.answered and result.hits else None
    return Ranked(q.id, rank, bool(first and quote_hit(first.quote, q.evidence)), not result.answered)


def evaluate(system: Any, qs: Sequence[Question], offtopic: Sequence[tuple[str, str]], *, k: int = K,
             rows: bool = False) -> dict[str, Any]:
    """hit@1..k, MRR, quote hit@1, false refusals on ``qs``; refusal rate on ``offtopic``."""
    ranked, latencies = [], []
    for q in qs:
        t0 = time.perf_counter()
        result = system.ask(q.question, k)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked.append(score(q, result, k))
    refused = [not system.ask(text, k).answered for _, text in offtopic]
    m = ranked_metrics(ranked, k)
    out: dict[str, Any] = {"system": getattr(system, "name", "?"), "false_refusal": m.pop("refused"), **m}
    out["offtopic_n"] = len(offtopic)
    out["offtopic_refused"] = sum(refused) / len(refused) if refused else None
    out["ms_mean"] = sum(latencies) / len(latencies) if latencies else None
    if rows:
        out["rows"] = ranked
        out["offtopic_answered"] = [qid for (qid, _), r in zip(offtopic, refused, strict=True) if not r]
    return out
