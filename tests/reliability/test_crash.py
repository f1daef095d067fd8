"""SIGKILL an ingest at random moments: a re-run finishes the job and the store stays consistent."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index import Briefbot, Settings
from tests.conftest import check_consistent

ROOT = Path(__file__).resolve().parents[2]


def make_reports(folder: Path, n: int, version: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(n * 7 + version)
    vocab = ["army", "brigade", "front", "oblast", "drone", "strike", "supply", "river", "bridge", "artillery", "winter", "offensive"]
    for i in range(n):
        paras = [" ".join(rng.choice(vocab) for _ in range(60)) + f" report {i} version {version}." for _ in range(25)]
        (folder / f"r{i:02d}.md").write_text(f"---\ntitle: Report {i}\n---\n\n" + "\n\n".join(paras))


def ingest_cmd(store: Path, folder: Path) -> list[str]:
    return [sys.executable, "-m", "index.cli", "ingest", str(folder), "--store", str(store)]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    e.update(BRIEFBOT_MODEL="hash", HF_HUB_OFFLINE="1")
    return e


def visible_reports_are_whole(store: Path) -> int:
    """Between crash and re-run: every report a search could return has all its chunks."""
    service = Briefbot(Settings(store=store, model="hash", _env_file=None))
    catalog = service.store.snapshot()
    for rid in catalog.visible:
        got = service.store.chunks.get(where={"report_id": rid}, include=[])
        assert len(got["ids"]) == catalog.reports[rid].chunks, f"half a report is visible: {rid}"
    return len(catalog.visible)


def test_sigkill_during_ingest_then_rerun(tmp_path: Path, slow: bool, figures: dict[str, object]) -> None:
    trials = 20 if slow else 3
    rng = random.Random(2026)
    folder = tmp_path / "in"
    make_reports(folder, 12, version=1)
    # How long an uninterrupted ingest takes, to aim the kills inside it.
    probe = tmp_path / "probe"
    t0 = time.monotonic()
    subprocess.run(ingest_cmd(probe, folder), env=env(), cwd=ROOT, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - t0
    results = []
    for trial in range(trials):
        store = tmp_path / f"store{trial}"
        updating = trial % 2 == 1
        if updating:  # kill during an update of already-stored reports
            make_reports(folder, 12, version=1)
            subprocess.run(ingest_cmd(store, folder), env=env(), cwd=ROOT, check=True, capture_output=True)
            make_reports(folder, 12, version=trial + 2)
        proc = subprocess.Popen(ingest_cmd(store, folder), env=env(), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3 * full, 1.0 * full))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen = visible_reports_are_whole(store) if store.exists() else 0
        rerun = subprocess.run(ingest_cmd(store, folder), env=env(), cwd=ROOT, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        service = Briefbot(Settings(store=store, model="hash", _env_file=None))
        check_consistent(service)
        titles = sorted(r.title for r in service.sources())
        assert titles == sorted(f"Report {i}" for i in range(12))
        if updating:  # every report is the new version, none the old
            text = service.store.canonical_text(service.sources()[0].report_id) or ""
            assert f"version {trial + 2}" in text
        results.append({"trial": trial, "updating": updating, "visible_after_kill": seen})
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert len(results) == trials
    figures.update(trials=trials, kills=trials, update_trials=sum(r["updating"] for r in results),
                   reports_checked=12 * trials, half_reports_seen=0, duplicates=0, orphans=0, items_lost=0)


@pytest.mark.parametrize("hold", [True])
def test_second_ingest_is_refused_while_one_runs(tmp_path: Path, hold: bool, figures: dict[str, object]) -> None:
    store = tmp_path / "store"
    first = Briefbot(Settings(store=store, model="hash", _env_file=None))
    folder = tmp_path / "in"
    make_reports(folder, 2, version=1)
    with first.writing():
        second = subprocess.run(ingest_cmd(store, folder), env=env(), cwd=ROOT, capture_output=True, text=True)
    assert second.returncode == 1
    assert "Another ingest" in second.stderr
    done = subprocess.run(ingest_cmd(store, folder), env=env(), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "2 new" in done.stdout
    figures.update(concurrent_ingests=2, refused_with_message=1, then_completed=1, items_lost=0)
