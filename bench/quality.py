"""The quality half: SQuAD-open and ISW, briefbot and both baselines over the same documents."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from . import isw, squad
from .common import paired_bootstrap, ranked_metrics
from .systems import (
    BM25System,
    BriefbotSystem,
    ExactSearch,
    LangChainSystem,
    chunk_passages,
    hf_embeddings,
    paragraph_passages,
    split_sources,
)

Log = Callable[[str], None]


@cache
def embedder() -> Any:
    """briefbot's embedder, loaded once for the whole run."""
    from index.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up the model"])
    return emb


@cache
def lc_embeddings() -> Any:
    """LangChain's HuggingFaceEmbeddings, loaded once."""
    emb = hf_embeddings()
    emb.embed_query("warm up the model")
    return emb


def _briefbot(store: Path) -> Any:
    from index import Briefbot, Settings

    return Briefbot(Settings(store=store, _env_file=None), embedder=embedder())


def _dump(path: Path, rows: Sequence[Any]) -> None:
    path.write_text("".join(json.dumps(r.__dict__ if hasattr(r, "__dict__") else r) + "\n" for r in rows))


def run_squad(work: Path, *, quick: bool, n: int | None, log: Log) -> dict[str, Any]:
    """Ingest the in-store articles into briefbot and the baselines; score the EVAL split."""
    arts = squad.in_store_articles()[:6] if quick else squad.in_store_articles()
    store = work / "squad-store"
    shutil.rmtree(store, ignore_errors=True)
    svc = _briefbot(store)
    log(f"SQuAD: ingesting {len(arts)} articles into briefbot ...")
    t0 = time.perf_counter()
    keys = squad.ingest(svc, arts, work / "squad-articles")
    bb_ingest = time.perf_counter() - t0
    gold_bb = squad.Gold.from_briefbot(svc, keys)
    gold_raw = squad.Gold.from_raw(arts)
    ids = [x.id for x in arts]
    present = squad.questions("eval", held_out=False, n=200 if quick else n, articles_in=ids)
    absent = squad.questions("eval", held_out=True, n=60 if quick else None)
    qs = present + absent

    log("SQuAD: building the baselines ...")
    sources = squad.sources(arts)
    chunks = split_sources(sources)
    t0 = time.perf_counter()
    lc = LangChainSystem.build(chunks, lc_embeddings(), svc.store.client)
    lc_ingest = time.perf_counter() - t0
    systems: list[tuple[Any, squad.Gold]] = [
        (BriefbotSystem(svc, gold_bb.keys), gold_bb),
        (lc, gold_raw),
        (BM25System("BM25 (1000-char chunks)", chunk_passages(chunks)), gold_raw),
        (BM25System("BM25 (paragraphs)", paragraph_passages(sources)), gold_raw),
    ]
    results, lc_exact = {}, {}
    for system, gold in systems:
        log(f"SQuAD: {system.name} on {len(qs)} questions ...")
        got = squad.evaluate(system, qs, gold=gold, rows=True)
        rows = got.pop("rows")
        _dump(work / f"squad-{system.name.replace(' ', '_')}.jsonl", rows)
        results[system.name] = got
        log(f"  hit@1 {got['hit1']:.3f} hit@5 {got['hit5']:.3f} quote {got['quote_hit1']:.3f} "
            f"held-out refused {got['heldout_refused']:.3f} false refusals {got['false_refusal']:.3f}")
        if system is lc:
            exact = squad.evaluate(ExactSearch(lc), present, gold=gold, rows=True)
            approx = {x.qid: x.rank for x in rows}
            lc_exact = _exact_summary(exact, approx)
    chunk_count, sentence_count = svc.store.counts()
    return {
        "systems": results, "n": len(present), "n_heldout": len(absent), "articles_in_store": len(arts),
        "held_out": sorted(squad.held_out_ids()), "paragraphs": sum(len(x.paragraphs) for x in arts),
        "unlocated": gold_bb.unlocated, "bb_chunks": chunk_count, "bb_sentences": sentence_count,
        "lc_chunks": len(chunks), "bb_ingest_s": bb_ingest, "lc_ingest_s": lc_ingest, "lc_exact": lc_exact,
    }


def _exact_summary(exact: dict[str, Any], approx_ranks: dict[str, int]) -> dict[str, Any]:
    """hit@1 and hit@5 of plain LangChain's collection searched exactly, and how many questions
    rank their first hit differently there than through the HNSW graph."""
    rows = exact.pop("rows")
    return {"hit1": exact["hit1"], "hit5": exact["hit5"], "n": len(rows),
            "rank_differs": sum(x.rank != approx_ranks.get(x.qid) for x in rows)}


def run_isw(work: Path, store: Path, files: Sequence[Path], *, log: Log) -> dict[str, Any]:
    """Score both ISW question sets and their off-topic questions on the store the ingest worker built.

    ``systems`` holds the figures over both sets together; ``sets`` the same per set; ``margins`` the
    paired bootstrap interval of briefbot minus each baseline (hit@1, hit@5) over both sets.
    """
    svc = _briefbot(store)
    catalog = svc.store.snapshot()
    keys = {s["report_id"]: Path(key).name for key, s in catalog.sources.items()}
    names = {f.name for f in files}
    sets = [(name, [q for q in qs if q.file is None or q.file in names], off) for name, qs, off in isw.question_sets()]
    qs = [q for _, set_qs, _ in sets for q in set_qs]
    off = [o for _, _, set_off in sets for o in set_off]
    sources = isw.sources(files)
    chunks = split_sources(sources)
    systems: list[Any] = [
        BriefbotSystem(svc, keys),
        LangChainSystem.open(lc_embeddings(), svc.store.client),
        BM25System("BM25 (1000-char chunks)", chunk_passages(chunks)),
        BM25System("BM25 (paragraphs)", paragraph_passages(sources)),
    ]
    results: dict[str, Any] = {}
    per_set: dict[str, dict[str, Any]] = {name: {} for name, _, _ in sets}
    ranks: dict[str, list[int]] = {}
    extra: dict[str, Any] = {}
    extra_lc: dict[str, Any] = {}
    for system in systems:
        log(f"ISW: {system.name} on {len(qs)} questions + {len(off)} off-topic ...")
        got = isw.evaluate(system, qs, off, rows=True)
        rows = got.pop("rows")
        answered_off = got.pop("offtopic_answered")
        _dump(work / f"isw-{system.name.replace(' ', '_')}.jsonl", rows)
        if system.name == "briefbot":
            extra = {"missed": [x.qid for x in rows if x.rank == 0], "offtopic_answered": answered_off}
        if isinstance(system, LangChainSystem):
            extra_lc = _exact_summary(isw.evaluate(ExactSearch(system), qs, [], rows=True), {x.qid: x.rank for x in rows})
        results[system.name] = got
        ranks[system.name] = [x.rank for x in rows]
        for name, set_qs, set_off in sets:
            ids = {q.id for q in set_qs}
            m: dict[str, Any] = ranked_metrics([x for x in rows if x.qid in ids])
            m["false_refusal"] = m.pop("refused")
            off_ids = {i for i, _ in set_off}
            m["offtopic_n"] = len(set_off)
            m["offtopic_refused"] = 1 - sum(i in off_ids for i in answered_off) / len(set_off) if set_off else None
            per_set[name][system.name] = m
        log(f"  hit@1 {got['hit1']:.3f} hit@5 {got['hit5']:.3f} quote {got['quote_hit1']:.3f} "
            f"off-topic refused {got['offtopic_refused']:.3f} false refusals {got['false_refusal']:.3f}")
    margins = {}
    for name, base in ranks.items():
        if name == "briefbot":
            continue
        margins[name] = {f"hit{k}": paired_bootstrap([0 < r <= k for r in ranks["briefbot"]], [0 < r <= k for r in base])
                         for k in (1, 5)}
    return {"systems": results, "sets": {name: {"n": len(set_qs), "n_offtopic": len(set_off), "systems": per_set[name]}
                                         for name, set_qs, set_off in sets},
            "margins": margins, "n": len(qs), "n_offtopic": len(off), "reports": len(catalog.visible),
            "restated": [q.id for q in qs if len(q.evidence) > q.labelled], "lc_exact": extra_lc, **extra}
