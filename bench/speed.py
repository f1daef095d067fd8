"""The speed half of the benchmark: drives ``bench.worker`` processes and a ``chroma run`` server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .common import ROOT, free_port, wait_port

Log = Callable[[str], None]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               TOKENIZERS_PARALLELISM="false")
    for key in [k for k in env if k.startswith("BRIEFBOT_")]:
        del env[key]
    return env


def worker_cmd(args: Sequence[str], out: Path) -> list[str]:
    """The command line of one worker."""
    return [sys.executable, "-m", "bench.worker", *args, "--out", str(out)]


def run_worker(args: Sequence[str], out: Path, log: Log, timeout: float = 1800) -> dict[str, Any]:
    """Run one worker to completion and return its JSON result (stderr goes to ``out``.log)."""
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as err:
        proc = subprocess.run(worker_cmd(args, out), cwd=ROOT, env=_env(), stdout=err, stderr=err,
                              timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = out.with_suffix(".log").read_text()[-2000:]
        raise RuntimeError(f"worker {args[0]} failed ({proc.returncode}):\n{tail}")
    log(f"worker {' '.join(args[:3])}: {time.perf_counter() - t0:.0f} s")
    return dict(json.loads(out.read_text()))


def start_worker(args: Sequence[str], out: Path) -> subprocess.Popen[bytes]:
    """Start a worker in the background (``finish_worker`` collects it)."""
    err = open(out.with_suffix(".log"), "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(worker_cmd(args, out), cwd=ROOT, env=_env(), stdout=err, stderr=err)


def finish_worker(proc: subprocess.Popen[bytes], out: Path, timeout: float = 1800) -> dict[str, Any]:
    """Wait for a background worker and return its JSON result."""
    code = proc.wait(timeout=timeout)
    if code != 0:
        raise RuntimeError(f"background worker failed ({code}):\n{out.with_suffix('.log').read_text()[-2000:]}")
    return dict(json.loads(out.read_text()))


@contextmanager
def chroma_server(path: Path, log: Log) -> Iterator[tuple[int, int]]:
    """``chroma run`` on a free 127.0.0.1 port over ``path``: yields (port, pid); stopped by its pid on exit."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    logfile = open(path.parent / f"chroma-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=logfile, stderr=subprocess.STDOUT, env=_env())
    try:
        wait_port(port, proc)
        log(f"chroma server on 127.0.0.1:{port} (pid {proc.pid})")
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logfile.close()


def fingerprint(chunk_ids_sha: str, extra: str) -> str:
    """A key for a derived store: the source's chunk ids and the code that defines its layout."""
    h = hashlib.sha256(f"{chunk_ids_sha}:{extra}".encode())
    for name in ("index/store.py", "index/service.py", "index/chunk.py", "bench/worker.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def copy_store(src: Path, dst: Path) -> None:
    """A copy of a closed store directory (for the server, which must own its own files)."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("cache", ".write.lock"))
