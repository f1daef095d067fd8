"""Questions asked while ingests run, in threads of one process, over the embedded store and a real
Chroma server: every answer comes from the old or the new version of an updated report, never a
mix of both, never from a version that is only partly written, and every passage is verbatim.

A question whose search overlaps the commit of a new version used to lose the report altogether
(the old version's vectors were deleted under it); ``Briefbot.ask`` now searches again when the
generation moved during its search, and this test fails on any answer without the report, any
mix, half report or non-verbatim passage.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import numpy as np

from index import Briefbot, StoreBusy
from index.embed import HashEmbedder
from index.load import load_bytes
from index.store import Store
from tests.conftest import check_consistent

QUESTION = "Which crews repair the Kherson bridge spans?"
FILLER = ["engineers", "counted", "pontoon", "sections", "while", "artillery", "units", "moved", "supplies",
          "across", "the", "river", "under", "drone", "cover", "and", "the", "regional", "administration",
          "reported", "progress", "to", "the", "ministry", "in", "daily", "briefings"]


def version(n: int, paragraphs: int = 10) -> bytes:
    """One report, version ``n``: every paragraph answers the question and names its version."""
    paras = [f"Repair crews from brigade {n} worked on span {p} of the Kherson bridge (revision {n}). "
             + " ".join(FILLER[(p + k) % len(FILLER)] for k in range(70)) + "." for p in range(paragraphs)]
    return (f"# Kherson bridge repairs, revision {n}\n\n" + "\n\n".join(paras) + "\n").encode()


def other(n: int) -> bytes:
    return (f"# Note {n}\n\nThe ministry allocated {n} billion rubles to icebreakers; Kherson bridge crews were "
            f"not mentioned in note {n}. " + " ".join(FILLER) + "\n").encode()


class Paced(HashEmbedder):
    """The hash embedder at a realistic pace: the real model spends ~14 ms a sentence on these cores,
    so a writer commits a few times a second, not back to back; questions (one text) stay fast."""

    def embed(self, texts: list[str]) -> np.ndarray:
        time.sleep(0.004 * len(texts))
        return super().embed(texts)


def run_race(svc: Briefbot, versions: int, readers: int, extra_notes: int) -> tuple[Counter[str], list[str]]:
    """Update one report ``versions`` times (and add notes) while readers ask; the tallies and the losses."""
    known: dict[str, str] = {}
    blobs = [version(n) for n in range(versions + 1)]
    for blob in blobs:
        doc = load_bytes(blob, "bridge.md")
        known[doc.report_id] = doc.text
    first = svc.ingest_bytes(blobs[0], "bridge.md", "upload:bridge")
    assert first.status == "new"
    checker_store = Store(svc.store.client, svc.settings.collection_prefix)  # its own catalog cache
    done = threading.Event()
    tally: Counter[str] = Counter()
    failures: list[str] = []  # what must never happen: a mix, half a report, a passage not verbatim
    lost: list[str] = []  # an answer without the report, or a search error, during a commit
    lock = threading.Lock()

    def write() -> None:
        try:
            for blob in blobs[1:]:
                item = svc.ingest_bytes(blob, "bridge.md", "upload:bridge")
                assert item.status == "updated", item
                with lock:
                    tally["updates"] += 1
        except BaseException as exc:
            failures.append(f"writer: {exc!r}")
        finally:
            done.set()

    def write_notes() -> None:
        for n in range(extra_notes):
            try:
                svc.ingest_bytes(other(n), f"note{n}.md", f"upload:note{n}")
                with lock:
                    tally["notes"] += 1
            except StoreBusy:  # the other writer holds the lock: a clear refusal is allowed
                with lock:
                    tally["busy"] += 1
            if done.is_set():
                break

    def read() -> None:
        while not done.is_set():
            try:
                answer = svc.ask(QUESTION, k=8)
            except Exception as exc:
                lost.append(f"reader: {exc!r}")
                continue
            seen = {p.report_id for p in answer.passages if p.report_id in known}
            unknown = {p.report_id for p in answer.passages} - set(known) - notes
            with lock:
                tally["answers"] += 1
                tally["passages"] += len(answer.passages)
                tally["bridge_answers"] += bool(seen)
            if not answer.answered or not seen:
                lost.append(f"no passage from the bridge report: {answer.message}")
            if len(seen) > 1:
                failures.append(f"a mix of versions in one answer: {sorted(seen)}")
            if unknown:
                failures.append(f"passages from an unknown report: {unknown}")
            for p in answer.passages:
                if p.report_id in known:
                    text = known[p.report_id]
                    if text[p.start:p.end] != p.text or text[p.quote_start:p.quote_end] != p.quote:
                        failures.append(f"not verbatim: {p.chunk_id}")

    def check_whole() -> None:
        """Every report visible at one generation has all its chunks (re-checked if the generation moved)."""
        while not done.is_set():
            g1 = checker_store.generation()
            catalog = checker_store.snapshot()
            counts = {rid: len(checker_store.chunks.get(where={"report_id": rid}, include=[])["ids"])
                      for rid in catalog.visible}
            if checker_store.generation() != g1 or catalog.generation != g1:
                continue
            with lock:
                tally["snapshots_checked"] += 1
            for rid, n in counts.items():
                if n != catalog.reports[rid].chunks:
                    failures.append(f"half a report visible: {rid} has {n} of {catalog.reports[rid].chunks} chunks")
            time.sleep(0.01)

    notes = {load_bytes(other(n), f"note{n}.md").report_id for n in range(extra_notes)}
    threads = [threading.Thread(target=write), threading.Thread(target=write_notes),
               threading.Thread(target=check_whole)] + [threading.Thread(target=read) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not failures, failures[:5]
    check_consistent(svc)
    [bridge] = [r for r in svc.sources() if r.title.startswith("Kherson bridge")]
    assert bridge.title == f"Kherson bridge repairs, revision {versions}"  # the last version won
    assert len(svc.sources()) == 1 + tally["notes"]
    return tally, lost


def test_questions_during_updates_never_see_a_mix(any_service: Briefbot, slow: bool, figures: dict[str, Any]) -> None:
    svc = Briefbot(any_service.settings.model_copy(update={"min_support": 0.0}), embedder=Paced(),
                   client=any_service.store.client)
    versions = 40 if slow else 6
    tally, lost = run_race(svc, versions=versions, readers=3 if slow else 2, extra_notes=20 if slow else 3)
    assert tally["updates"] == versions and tally["answers"] >= versions
    mode = "server" if svc.settings.server_mode else "embedded"
    figures.update(store=mode, versions_written=versions + 1, notes_added=tally.get("notes", 0),
                   busy_refusals=tally.get("busy", 0), questions_answered=tally["answers"],
                   passages_checked=tally["passages"], snapshots_checked=tally.get("snapshots_checked", 0),
                   mixed_answers=0, half_reports=0, answers_missing_the_report=len(lost), items_lost=len(lost))
    assert not lost, f"{len(lost)} of {tally['answers']} answers during an update lacked the report: {sorted(set(lost))[:2]}"
