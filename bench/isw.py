"""ISW: natural briefing questions over the ISW assessments plus the sample news item.

A hit: a returned passage contains one of the question's evidence strings, both sides put through
``common.norm`` (markdown links/emphasis dropped, comma runs and whitespace collapsed).
A quote hit: the first quote contains an evidence string, or the quote and an evidence string
share a contiguous run of at least 60% of that evidence string's characters (a quote is capped at
400 characters, so a long evidence sentence can only be partly inside it).
Off-topic questions must be refused; a refused ISW question is a false refusal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Question:
    """One ISW question and the evidence any correct passage contains."""

    id: str
    question: str
    evidence: tuple[str, ...]
    file: str | None


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
            out.append(Question(str(r["id"]), r["question"], tuple([ev] if isinstance(ev, str) else ev),
                                r.get("file")))
    return out


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
