"""Tune fusion weights and the refusal gate on the TUNING splits only (never the reported ones).

    python -m bench.tune STORE_DIR      # a store holding the SQuAD in-store articles

Collects, per TUNING question, every candidate chunk's three retriever scores once, then re-ranks
offline for each weight setting; prints hit@1/hit@5 per setting and the support distributions of
answerable TUNING questions against held-out-article questions (the refusal calibration data).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from index import Briefbot, Filters, Settings
from index import search as search_mod
from index.keyword import tokenize

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "squad2-dev"


def tuning(qid: str) -> bool:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0


def main(store: str, limit: int = 1500) -> None:
    svc = Briefbot(Settings(store=Path(store), _env_file=None))
    arts = {a["id"]: a for a in map(json.loads, (SQUAD / "articles.jsonl").read_text().splitlines())}
    held = set(sorted(arts)[-5:])
    catalog = svc.store.snapshot()
    by_title = {rec.title: rid for rid, rec in catalog.reports.items()}
    spans: dict[tuple[str, int], tuple[str, int, int]] = {}
    for aid, art in arts.items():
        if aid in held:
            continue
        rid = by_title[art["title"]]
        text = svc.store.canonical_text(rid) or ""
        pos = 0
        for n, para in enumerate(art["paragraphs"]):
            probe = " ".join(para.split())[:60]
            at = text.find(probe, pos)
            if at >= 0:
                spans[(aid, n)] = (rid, at, at + len(" ".join(para.split())))
                pos = at
    qs = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines()]
    qs = [q for q in qs if q["answerable"] and tuning(q["id"])]
    rng = np.random.default_rng(7)
    inside = [q for q in qs if q["article"] not in held]
    inside = [inside[i] for i in rng.choice(len(inside), size=min(limit, len(inside)), replace=False)]
    outside = [q for q in qs if q["article"] in held][:limit // 2]

    defaults = (search_mod.W_CHUNK, search_mod.W_SENTENCE, search_mod.W_KEYWORD, search_mod.W_COVERAGE,
                search_mod.RERANK_DEPTH)
    search_mod.W_CHUNK, search_mod.W_SENTENCE, search_mod.W_KEYWORD, search_mod.W_COVERAGE = 1 / 3, 1 / 3, 1 / 3, 0.0
    search_mod.RERANK_DEPTH = 60
    rows = []
    for q in inside:
        qvec = svc.embedder.embed([q["question"]])[0]
        hits, _ = svc.searcher.search(q["question"], Filters(), 60, qvec)
        gold = spans.get((q["article"], q["paragraph"]))
        chunks = svc.store.get("chunks", [h.chunk_id for h in hits], documents=True)
        good = []
        cov = [h.coverage for h in hits]
        for h in hits:
            meta, _, text = chunks[h.chunk_id]
            ok = bool(gold and gold[0] == h.report_id and meta["start"] < gold[2] and meta["end"] > gold[1]
                      and any(a.lower() in text.lower() for a in q["answers"]))
            good.append(ok)
        rows.append((np.array([[h.chunk_cos, h.sentence_cos, h.keyword, c] for h, c in zip(hits, cov)]), np.array(good)))
    grid = [(a / 10, b / 10, round(1 - a / 10 - b / 10, 1), d / 10) for a, b, d in itertools.product(range(11), repeat=3) if a + b <= 10 and d <= 5]
    for w in grid:
        h1 = h5 = 0
        for feats, good in rows:
            order = np.argsort(-(feats @ np.array(w)))
            h1 += bool(good[order[:1]].any())
            h5 += bool(good[order[:5]].any())
        print(f"weights {w}: hit@1 {h1 / len(rows):.3f} hit@5 {h5 / len(rows):.3f}")

    (search_mod.W_CHUNK, search_mod.W_SENTENCE, search_mod.W_KEYWORD, search_mod.W_COVERAGE,
     search_mod.RERANK_DEPTH) = defaults
    ins = np.array([gate_features(svc, q["question"]) for q in inside[:600]])
    outs = np.array([gate_features(svc, q["question"]) for q in outside])
    np.savez("/tmp/gate_squad.npz", ins=ins, outs=outs)
    for t in np.arange(0.30, 0.70, 0.02):
        print(f"threshold {t:.2f}: false refusals {np.mean(ins[:, 0] < t):.3f}  held-out refused {np.mean(outs[:, 0] < t):.3f}")


def gate_features(svc: Briefbot, question: str) -> list[float]:
    """[current support, sentence cos, chunk cos, coverage, bm25 top raw, share of query idf unknown]."""
    qvec = svc.embedder.embed([question])[0]
    hits, cat = svc.searcher.search(question, Filters(), 1, qvec)
    if not hits:
        return [0.0] * 6
    kw = svc.searcher.keyword_index(cat)
    tokens = tokenize(question)
    cov = hits[0].coverage
    raw = float(kw.scores(tokens).max()) if tokens else 0.0
    total = sum(kw.idf(t) for t in set(tokens)) or 1.0
    unknown = sum(kw.idf(t) for t in set(tokens) if t not in kw._df) / total
    return [hits[0].sentence_cos + 0.35 * cov, hits[0].sentence_cos, hits[0].chunk_cos, cov, raw, unknown]


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
