"""``python -m bench``: measure briefbot and both baselines in one run, write docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import common  # noqa: F401  (sets the offline environment before anything loads)
from .common import DOCS, Contention, K, code_version, machine, wait_quiet

T0 = time.perf_counter()


def log(msg: str) -> None:
    """Progress on stderr with the elapsed time."""
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="fixed small sample (~5 min); writes to the work dir, not docs/, unless --out is given")
    p.add_argument("--skip-100k", action="store_true", help="skip the 100,000-chunk store")
    p.add_argument("--skip-server", action="store_true", help="skip the `chroma run` server measurements")
    p.add_argument("--skip-squad", action="store_true", help="skip SQuAD-open")
    p.add_argument("--skip-isw", action="store_true", help="skip ISW quality (ingest and latency still run)")
    p.add_argument("--skip-bot", action="store_true", help="skip the bot measurements")
    p.add_argument("--squad-n", type=int, default=None,
                   help="seeded sample of answerable EVAL questions (default: all of them, 2,474)")
    p.add_argument("--quiet-wait", type=float, default=90.0,
                   help="before each timed phase, wait up to this many seconds for other processes to go quiet")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "briefbot-bench",
                   help="stores, worker logs and results.json (the 100k store is reused across runs if unchanged)")
    p.add_argument("--out", type=Path, default=None, help="markdown output (default docs/BENCHMARKS.md)")
    p.add_argument("--from-results", type=Path, default=None, metavar="RESULTS_JSON",
                   help="measure nothing: re-render the markdown and charts from a saved results.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every part, write the report."""
    a = parse(argv)
    if a.from_results:
        r0 = json.loads(a.from_results.read_text())
        write(r0, a.from_results.parent, a.out or DOCS / "BENCHMARKS.md", save=False)
        return 0
    from . import botbench, isw, quality, speed

    work = a.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out_md = a.out or (work / "BENCHMARKS-quick.md" if a.quick else DOCS / "BENCHMARKS.md")
    r: dict[str, Any] = {"args": {k: str(v) for k, v in vars(a).items()}, "k": K, "load_start": os.getloadavg()[0],
                         "contention": {}}
    r["args"]["quick"] = a.quick
    r["index_version"] = code_version()
    r["machine"] = machine()
    log(f"machine: {r['machine']}; work dir {work}")

    @contextmanager
    def phase(name: str) -> Iterator[Contention]:
        """A timed phase: wait for a quiet machine, then record what other processes used during it."""
        before = wait_quiet(log, a.quiet_wait) if a.quiet_wait > 0 else None
        with Contention() as c:
            yield c
        r["contention"][name] = {"before": before, "during": c.cores}
        if c.cores > 0.5:
            log(f"note: other processes used {c.cores:.1f} cores during '{name}'")

    files = isw.corpus_files(quick=a.quick)
    isw_store = work / "isw-store"
    shutil.rmtree(isw_store, ignore_errors=True)
    queries = latency_queries(a.quick)
    (work / "queries.json").write_text(json.dumps(queries))
    r["n_latency_queries"] = len(queries)

    # 1. Ingest, timed alone in a fresh process; it also builds the ISW stores the rest uses.
    log(f"ingesting {len(files)} ISW files (timed) ...")
    with phase("ingest"):
        r["ingest"] = speed.run_worker(["ingest", "--store", str(isw_store), *map(str, files)],
                                       work / "ingest.json", log)
    ing = r["ingest"]
    log(f"ingest {ing['ingest_s']:.1f} s vs encode chunks {ing['encode_chunks_s']:.1f} s / sentences "
        f"{ing['encode_sentences_s']:.1f} s; re-ingest {ing['reingest_s']:.2f} s")

    # 2. Latency at ISW size, embedded, then against a `chroma run` server over a copy of the store.
    lat: dict[str, dict[str, Any]] = {}
    r["latency"] = lat
    with phase("latency_isw"):
        lat["isw_embedded"] = serve_pair(speed, work, "isw", store=isw_store)
    bot_store = work / "bot-store"
    if not a.skip_bot:  # the bot serves its own copy: this process opens the ISW store later
        speed.copy_store(isw_store, bot_store)
    if not a.skip_server:
        server_dir = work / "server-store"
        speed.copy_store(isw_store, server_dir)
        with phase("latency_server") as c, speed.chroma_server(server_dir, log) as (port, pid):
            c.track(pid)
            lat["isw_server"] = serve_pair(speed, work, "server", port=port)
        shutil.rmtree(server_dir, ignore_errors=True)

    # 3. The 100k store builds in the background while the quality runs use the CPU.
    big_proc = big_dir = None
    if not a.skip_100k:
        target = 10_000 if a.quick else 100_000
        key = speed.fingerprint(ing["chunk_ids_sha"], f"{target}")
        big_dir = work / f"store-{target // 1000}k-{key}"
        if (big_dir / "done.json").exists():
            log(f"reusing {big_dir.name} (same ISW chunks and record layout)")
            r["build100k"] = json.loads((big_dir / "done.json").read_text())
        else:
            for old in work.glob(f"store-{target // 1000}k-*"):
                shutil.rmtree(old, ignore_errors=True)
            log(f"building a {target:,}-chunk store in the background ...")
            big_proc = speed.start_worker(["build100k", "--src", str(isw_store), "--dst", str(big_dir / "chroma"),
                                           "--target", str(target)], work / "build100k.json")

    # 4. Quality, in this process (timing does not matter here).
    if not a.skip_squad:
        r["squad"] = quality.run_squad(work, quick=a.quick, n=a.squad_n, log=log)
    if not a.skip_isw:
        if big_proc is not None:  # it reads the ISW store; let it finish before this process opens it
            r["build100k"] = wait_big(speed, big_proc, work, big_dir)
            big_proc = None
        r["isw"] = quality.run_isw(work, isw_store, files, log=log) if isw.available() else {
            "reason": "tests/data/isw_questions.jsonl or offtopic_questions.jsonl is missing"}

    # 5. Latency and memory at 100k.
    if big_dir is not None:
        if big_proc is not None:
            r["build100k"] = wait_big(speed, big_proc, work, big_dir)
        with phase("latency_100k"):
            lat["100k"] = serve_pair(speed, work, "100k", store=big_dir / "chroma", writes=True)

    # 6. The bot, as deployed, against the test Bot API server.
    if a.skip_bot:
        r["bot"] = {"reason": "skipped (--skip-bot)"}
    else:
        with phase("bot"):
            r["bot"] = botbench.run(work, bot_store, queries, log,
                                    big_store=big_dir / "chroma" if big_dir else None, quick=a.quick)

    r["index_version_end"] = code_version()
    if r["index_version_end"] != r["index_version"]:
        log("warning: index/ changed while the benchmark ran; rerun for numbers of one version")
    r["load_end"] = os.getloadavg()[0]
    r["run_s"] = time.perf_counter() - T0
    write(r, work, out_md)
    return 0


def latency_queries(quick: bool) -> list[str]:
    """A fixed question list for latency: ISW and off-topic questions, then SQuAD EVAL questions."""
    from . import isw, squad

    qs: list[str] = []
    if isw.available():
        qs += [q.question for q in isw.load_questions()] + [q for _, q in isw.load_offtopic()]
    total = 40 if quick else 200
    qs = qs[:total]
    qs += [q.question for q in squad.questions("eval", held_out=None, n=max(total - len(qs), 0), seed=11)]
    return qs[:total]


def serve_pair(speed: Any, work: Path, tag: str, *, store: Path | None = None, port: int = 0,
               writes: bool = False) -> dict[str, Any]:
    """One fresh serving process: briefbot alone (peak RSS), then both systems alternating per question;
    with ``writes``, then briefbot's questions during an add and a forget (the store ends as it began)."""
    args = ["serve", "--queries", str(work / "queries.json"), "-k", str(K)] + ["--writes"] * writes
    args += ["--store", str(store)] if store else ["--port", str(port), "--cache", str(work / f"kw-{tag}")]
    got = speed.run_worker(args, work / f"serve-{tag}.json", log)
    for kind in ("briefbot", "langchain"):
        x = got[kind]
        log(f"  {tag} {kind}: p50 {x['p50']:.1f} ms, p95 {x['p95']:.1f} ms, peak RSS {x['peak_rss_mb']:.0f} MB")
    if got.get("during_writes"):
        w = got["during_writes"]
        log(f"  {tag} during writes ({', '.join(f'{s:.1f} s' for s in w['writes_s'])}): {w['n']} questions, "
            f"max {w['max']:.0f} ms")
    return dict(got)


def wait_big(speed: Any, proc: Any, work: Path, big_dir: Path | None) -> dict[str, Any]:
    """Collect the background 100k build and mark its store reusable."""
    log("waiting for the 100k store ...")
    got: dict[str, Any] = speed.finish_worker(proc, work / "build100k.json")
    assert big_dir is not None
    (big_dir / "done.json").write_text(json.dumps(got))
    log(f"100k store: {got['chunks']:,} chunks, {got['sentences']:,} sentences in {got['build_s']:.0f} s")
    return got


def write(r: dict[str, Any], work: Path, out_md: Path, *, save: bool = True) -> None:
    """results.json in the work dir; the markdown and PNGs next to ``out_md``."""
    from .charts import charts
    from .report import markdown

    if save:
        (work / "results.json").write_text(json.dumps(r, indent=1, default=str))
    out_md.parent.mkdir(parents=True, exist_ok=True)
    pngs = charts(r, out_md.parent)
    out_md.write_text(markdown(r, pngs))
    log(f"wrote {out_md} and {', '.join(pngs)}; results in {work / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
