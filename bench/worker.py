"""Measurements that need a process of their own: ISW ingest, a serving process, the 100k store.

Run as ``python -m bench.worker {ingest,serve,build100k} --out result.json ...``; the driver
(``bench.speed``) starts each one and reads its JSON. A fresh process per measurement keeps peak
RSS honest and keeps one Chroma client per store path per process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import common  # noqa: F401  (sets the offline environment first)
from .big import cmd_build100k
from .common import latency_summary, model_path, peak_rss_mb


def _rss_mb() -> dict[str, float]:
    """This process's RSS now and at its peak (its own high-water mark; see ``common.peak_rss_mb``)."""
    import psutil

    peak = peak_rss_mb()
    if peak is None:  # not Linux: the only figure there is
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_mb": psutil.Process().memory_info().rss / 2**20, "peak_rss_mb": peak}


class Clock:
    """Wall and process CPU seconds of a block (CPU time counts every thread of this process)."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


# Rounds of the ingest timing: ingest and the model alone, each timed this many times.
ROUNDS = 2


# --- ingest -----------------------------------------------------------------------------------
def cmd_ingest(a: argparse.Namespace) -> dict[str, Any]:
    """Time a from-scratch ingest, the model alone on the same texts, and an unchanged re-ingest."""
    from sentence_transformers import SentenceTransformer

    from index import Briefbot, Settings
    from index.embed import SentenceTransformerEmbedder

    from . import isw
    from .systems import LangChainSystem, hf_embeddings, split_sources

    files = [str(Path(f)) for f in a.inputs]
    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up the model"])
    plain = SentenceTransformer(model_path(), device="cpu")
    plain.encode(["warm up the model"])
    settings = Settings(store=Path(a.store), _env_file=None)
    svc = Briefbot(settings, embedder=emb)
    with Clock() as ing:
        summary = svc.ingest(files)
    out: dict[str, Any] = {"files": len(files), "failed": summary.count("failed")}
    chunks, sentences = svc.store.counts()
    out.update(chunks=chunks, sentences=sentences, reports=len(svc.store.snapshot().visible))
    ids = sorted(svc.store.chunks.get(include=[])["ids"])
    out["chunk_ids_sha"] = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    sent_texts, chunk_texts = stored_texts(svc)
    out.update(sentence_chars=sum(map(len, sent_texts)), chunk_chars=sum(map(len, chunk_texts)))

    # Each side twice, in turn (ingest, model alone, ingest into a fresh store, model alone), and the
    # faster of each: on a shared 2-core machine one run of either can be slowed by another process.
    runs: dict[str, list[Clock]] = defaultdict(list, ingest=[ing])
    for n in range(ROUNDS):
        for name, texts in (("encode_sentences", sent_texts), ("encode_chunks", chunk_texts)):
            with Clock() as enc:
                plain.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
            runs[name].append(enc)
        if n + 1 < ROUNDS:  # the fresh store stays until the next run: its Chroma client is this process's
            shutil.rmtree(fresh := Path(f"{a.store}-round{n + 2}"), ignore_errors=True)
            with Clock() as ing_n:
                Briefbot(Settings(store=fresh, _env_file=None), embedder=emb).ingest(files)
            runs["ingest"].append(ing_n)
    for name, clocks in runs.items():
        best = min(clocks, key=lambda c: c.wall)
        out.update({f"{name}_s": best.wall, f"{name}_cpu_s": best.cpu, f"{name}_runs_s": [c.wall for c in clocks]})

    again = Briefbot(settings, embedder=emb)
    with Clock() as re_ing:
        summary2 = again.ingest(files)
    out.update(reingest_s=re_ing.wall, reingest_cpu_s=re_ing.cpu,
               reingest_unchanged=summary2.count("unchanged") + summary2.count("duplicate"))

    # The plain-LangChain store, in the same Chroma directory (its own collection).
    lc_emb = hf_embeddings()
    lc_emb.embed_query("warm up the model")
    lc_chunks = split_sources(isw.sources([Path(f) for f in files]))
    with Clock() as lc:
        LangChainSystem.build(lc_chunks, lc_emb, svc.store.client)
    out.update(lc_chunks=len(lc_chunks), lc_ingest_s=lc.wall, lc_ingest_cpu_s=lc.cpu)
    out.update(_rss_mb())
    return out


def stored_texts(svc: Any) -> tuple[list[str], list[str]]:
    """The sentence texts briefbot embedded (its chunks' sentence spans) and its chunk texts."""
    canon: dict[str, str] = {}
    sentences, chunks = [], []
    for _id, text, m in svc.store.iter_chunks():
        rid = m["report_id"]
        if rid not in canon:
            canon[rid] = svc.store.canonical_text(rid) or ""
        sentences += [canon[rid][int(s):int(e)] for s, e in json.loads(m["sents"])]
        chunks.append(text)
    return sentences, chunks


# --- serve ------------------------------------------------------------------------------------
def _open_briefbot(a: argparse.Namespace) -> Any:
    from index import Briefbot, Settings

    # No question-vector cache: every timed question pays for its embedding, as plain LangChain's does.
    kw: dict[str, Any] = {"store": Path(a.store or "/nonexistent"), "_env_file": None, "question_cache": 0}
    if a.port:
        kw.update(chroma_host="127.0.0.1", chroma_port=a.port, cache_dir=Path(a.cache))
    return Briefbot(Settings(**kw))


def _open_langchain(a: argparse.Namespace, client: Any = None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from .systems import LangChainSystem, hf_embeddings

    if client is None:
        cs = ChromaSettings(anonymized_telemetry=False)
        client = (chromadb.HttpClient(host="127.0.0.1", port=a.port, settings=cs) if a.port
                  else chromadb.PersistentClient(path=a.store, settings=cs))
    return LangChainSystem.open(hf_embeddings(), client)


def _time(fn: Any, q: str) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    got = fn(q)
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000, got


def cmd_serve(a: argparse.Namespace) -> dict[str, Any]:
    """A serving process: briefbot alone first (its peak RSS), then both systems answering the same
    questions alternately, so that whatever else runs on the machine slows both alike."""
    import psutil

    from index.embed import embed_questions

    queries: list[str] = json.loads(Path(a.queries).read_text())
    out: dict[str, Any] = {"mode": "server" if a.port else "embedded"}
    bb: dict[str, Any] = {}
    with Clock() as boot:
        svc = _open_briefbot(a)
    with Clock() as model:  # what a serving process loads: the question model (ONNX Runtime by default)
        embed_questions(svc.embedder, ["warm up the model"])
    with Clock() as first:  # builds the keyword index, or loads it from the cache
        svc.ask(queries[0], k=a.k)
    bb.update(open_s=boot.wall, model_s=model.wall, first_query_s=first.wall,
              process_to_first_answer_s=time.time() - psutil.Process().create_time())
    for q in queries[1:6]:
        svc.ask(q, k=a.k)
    # A full pass before measuring memory; also the first sight of each question, while the row cache
    # fills (the timed passes below find most candidates' rows in it).
    first_pass = [_time(lambda q: svc.ask(q, k=a.k), q) for q in queries]
    bb["answered"] = sum(got.answered for _, _, got in first_pass) / len(queries)
    bb["first_pass"] = latency_summary([wall for wall, _, _ in first_pass])
    before = (svc.searcher.rows.hits, svc.searcher.rows.misses)
    bb["chunks"], bb["sentences"] = svc.store.counts()
    bb.update(_rss_mb())  # the peak of a process serving briefbot alone

    lc = _open_langchain(a, client=svc.store.client)
    lc_out: dict[str, Any] = {"chunks": lc.vs._collection.count()}
    with Clock() as first_lc:
        lc.vs.similarity_search(queries[0], k=a.k)
    lc_out["first_query_s"] = first_lc.wall
    for q in queries[1:6]:
        lc.vs.similarity_search(q, k=a.k)
    series: dict[str, tuple[list[float], list[float]]] = {"briefbot": ([], []), "langchain": ([], [])}
    fns = {"briefbot": lambda q: svc.ask(q, k=a.k), "langchain": lambda q: lc.vs.similarity_search(q, k=a.k)}
    for n, q in enumerate(queries * a.passes):
        order = ("briefbot", "langchain") if n % 2 == 0 else ("langchain", "briefbot")
        for kind in order:
            wall, cpu, _ = _time(fns[kind], q)
            series[kind][0].append(wall)
            series[kind][1].append(cpu)
    for kind, target in (("briefbot", bb), ("langchain", lc_out)):
        walls, cpus = series[kind]
        target.update(latency_summary(walls))
        target["cpu_p50"] = latency_summary(cpus)["p50"]
        target["cpu_p95"] = latency_summary(cpus)["p95"]
    hits, misses = svc.searcher.rows.hits - before[0], svc.searcher.rows.misses - before[1]
    bb.update(row_cache_hit_rate=hits / max(1, hits + misses), row_cache_mb=svc.searcher.rows.nbytes / 2**20,
              question_runtime=getattr(svc.embedder, "question_runtime", "-"))
    lc_out.update(_rss_mb())  # both systems loaded: only an upper bound for LangChain
    out.update(briefbot=bb, langchain=lc_out, load_avg=os.getloadavg()[0])
    if a.writes:
        out["during_writes"] = _questions_during_writes(svc, queries, a.k)
    return out


def _questions_during_writes(svc: Any, queries: list[str], k: int) -> dict[str, Any]:
    """Questions asked back to back while this process adds a one-paragraph report and then forgets
    it, as the bot does for an admin's /add and /forget: each write rebuilds the keyword index."""
    import itertools
    import tempfile
    import threading

    svc.embedder.embed(["load the document model first: its loading is not the write's"])
    asked: list[tuple[float, float]] = []  # (start, wall ms)
    stop = threading.Event()

    def ask_loop() -> None:
        for q in itertools.cycle(queries):
            if stop.is_set():
                return
            t0 = time.perf_counter()
            svc.ask(q, k=k)
            asked.append((t0, (time.perf_counter() - t0) * 1000))

    writes: list[tuple[float, float]] = []
    asker = threading.Thread(target=ask_loop, daemon=True)
    asker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            note = Path(tmp) / "bench-note.md"
            note.write_text(f"---\ntitle: Bench note {time.time()}\n---\nGrain convoys left Odesa under escort.\n")
            time.sleep(1.0)
            writers: list[Callable[[], object]] = [lambda: svc.ingest([str(note)]), lambda: svc.forget(str(note))]
            for write in writers:
                t0 = time.perf_counter()
                write()
                writes.append((t0, time.perf_counter()))
                time.sleep(1.0)
    finally:
        stop.set()
        asker.join()
    during = [ms for t0, ms in asked if any(t0 < end and t0 + ms / 1000 > start for start, end in writes)]
    return {"writes_s": [end - start for start, end in writes], "n": len(during), "max": max(during, default=0.0),
            **(latency_summary(during) if during else {})}


def main(argv: list[str] | None = None) -> int:
    """Parse, run one command, write its JSON result."""
    p = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("ingest")
    i.add_argument("--store", required=True)
    i.add_argument("inputs", nargs="+")
    s = sub.add_parser("serve")
    s.add_argument("--store")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--cache")
    s.add_argument("--queries", required=True)
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--passes", type=int, default=1)
    s.add_argument("--writes", action="store_true", help="then time questions during an add and a forget")
    b = sub.add_parser("build100k")
    b.add_argument("--src", required=True)
    b.add_argument("--dst", required=True)
    b.add_argument("--target", type=int, default=100_000)
    b.add_argument("--sigma", type=float, default=0.01)
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--prefix", default="briefbot")
    for sp in (i, s, b):
        sp.add_argument("--out", required=True)
    a = p.parse_args(argv)
    result = {"ingest": cmd_ingest, "serve": cmd_serve, "build100k": cmd_build100k}[a.cmd](a)
    Path(a.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
