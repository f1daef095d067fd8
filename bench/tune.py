"""Tune the fusion weights on tuning data only (never on the questions results are reported on).

    python -m bench.tune SQUAD_STORE ISW_STORE

SQUAD_STORE holds the SQuAD in-store articles (``bench.squad.ingest``), ISW_STORE the ISW
assessments and the sample. Tuning questions: 800 sampled SQuAD TUNING-split questions (id hash
even) and tests/data/calibration_ontopic.jsonl + tuning_ontopic.jsonl over ISW. Every candidate's
features are collected once; each weight setting is then replayed offline through the same two
stages as ``index.search`` (every candidate ranked on chunk and sentence cosines, BM25, coverage and
date; the quote's score added for the leaders) and the settings are printed best first.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

from index import Briefbot, Filters, Settings
from index import search as S
from index.when import windows

from . import squad
from .common import norm

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
LEADERS = S.QUOTE_DEPTH  # read before ``collect`` widens it
GRID = itertools.product([0, 0.15, 0.3, 0.45], [0.3, 0.6, 0.9], [0, 0.1, 0.2], [0, 0.15, 0.3, 0.5], [0.1],
                         [0, 0.3, 0.6, 1.0])


def collect(svc: Briefbot, questions: list[tuple[str, object]], good: object) -> list[np.ndarray]:
    """Per question, one row per candidate: (chunk, sentence, bm25, coverage, date, quote, is-gold)."""
    S.QUOTE_DEPTH, S.W_QUOTE = 400, 0.0
    out = []
    for text, gold in questions:
        hits, cat = svc.searcher.search(text, Filters(), 400)
        periods = windows(text)
        out.append(np.array([(h.chunk_cos, h.sentence_cos, h.keyword, h.coverage,
                              float(any(w.contains(cat.reports[h.report_id].date) for w in periods)),
                              h.quote_score, float(good(h, gold))) for h in hits]))  # type: ignore[operator]
    return out


def replay(rows: list[np.ndarray], w: tuple[float, ...], leaders: int) -> tuple[float, float]:
    """hit@1 and hit@5 of one weight setting through the two stages."""
    wv = np.array(w)
    h1 = h5 = 0
    for r in rows:
        if not len(r):
            continue
        r = r[np.argsort(-(r[:, :5] @ wv[:5]), kind="stable")[:leaders]]
        g = r[np.argsort(-(r[:, :6] @ wv), kind="stable"), 6]
        h1 += bool(g[0])
        h5 += bool(g[:5].any())
    return h1 / len(rows), h5 / len(rows)


def main(squad_store: str, isw_store: str, n: int = 800) -> None:
    sq = Briefbot(Settings(store=Path(squad_store), _env_file=None))
    isw = Briefbot(Settings(store=Path(isw_store), _env_file=None), embedder=sq.embedder)
    gold = squad.Gold.from_briefbot(sq)
    qs = squad.questions("tuning")
    qs = [qs[i] for i in np.random.default_rng(3).choice(len(qs), size=min(n, len(qs)), replace=False)]

    def squad_good(h: S.Hit, q: squad.Question) -> bool:
        spans = gold.spans.get(q.article)
        span = spans[q.paragraph] if spans and q.paragraph < len(spans) else None
        return bool(span and gold.keys.get(h.report_id) == q.article and h.meta
                    and int(h.meta["start"]) < span[1] and span[0] < int(h.meta["end"])
                    and any(a.casefold() in h.text.casefold() for a in q.answers))

    def isw_good(h: S.Hit, evidence: list[str]) -> bool:
        return any(e in norm(h.text) for e in evidence)

    lines = [json.loads(x) for name in ("calibration_ontopic.jsonl", "tuning_ontopic.jsonl")
             for x in (DATA / name).read_text().splitlines() if x.strip()]
    sets = {
        "squad": collect(sq, [(q.question, q) for q in qs], squad_good),
        "isw": collect(isw, [(x["question"], [norm(e) for e in x["evidence"]]) for x in lines], isw_good),
    }
    results = []
    for w in GRID:
        a, b = replay(sets["squad"], w, LEADERS), replay(sets["isw"], w, LEADERS)
        results.append(((a[0] + b[0]) / 2 + (a[1] + b[1]) / 4, w, a, b))
    results.sort(reverse=True)
    print("weights (chunk, sentence, bm25, coverage, date, quote): SQuAD tuning hit@1/@5, ISW tuning hit@1/@5")
    for _, w, a, b in results[:20]:
        print(w, f"squad {a[0]:.3f}/{a[1]:.3f}", f"isw {b[0]:.3f}/{b[1]:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
