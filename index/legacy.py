"""Stores written by older versions: read as they are, and brought up to date in place.

Two layouts changed: report texts moved from report records onto records of their own, and
sentence vectors moved from a collection of their own into their chunks' metadata.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .store import _DUMMY, SENTENCE_VECTORS, Store, pack_vectors


def upgrade(store: Store) -> int:
    """Bring a store written by an older version up to date; returns how many records moved.

    Report texts move onto records of their own (copied before the report records drop them),
    and sentence vectors from their old collection into their chunks' metadata (the collection
    is dropped only once every chunk has them), so a crash at any point loses nothing.
    """
    have = set(store.catalog.get(where={"kind": "text"}, include=[])["ids"])
    missing = [rid for rid in store.snapshot().reports if f"text:{rid}" not in have]
    moved = 0
    for i in range(0, len(missing), 200):
        ids = [f"report:{rid}" for rid in missing[i:i + 200]]
        got = store.catalog.get(ids=ids, include=["metadatas", "documents"])
        rows = [(m, d) for m, d in zip(got["metadatas"], got["documents"], strict=True) if d]
        if not rows:
            continue
        moved += len(rows)
        store.catalog.upsert(ids=[f"text:{m['report_id']}" for m, _ in rows], embeddings=[_DUMMY] * len(rows),
                            metadatas=[{"kind": "text", "report_id": m["report_id"]} for m, _ in rows],
                            documents=[d for _, d in rows])
        store.catalog.upsert(ids=[f"report:{m['report_id']}" for m, _ in rows], embeddings=[_DUMMY] * len(rows),
                            metadatas=[m for m, _ in rows], documents=[""] * len(rows))
    return moved + _move_sentence_vectors(store)


def _move_sentence_vectors(store: Store) -> int:
    if store.legacy is None:
        return 0
    moved = 0
    counts: dict[str, int] = {}
    offset = 0
    while True:
        got = store.chunks.get(include=["metadatas"], limit=500, offset=offset)
        if not got["ids"]:
            break
        offset += len(got["ids"])
        metas = dict(zip(got["ids"], got["metadatas"], strict=True))
        for m in metas.values():
            counts[m["report_id"]] = counts.get(m["report_id"], 0) + int(m["n_sent"])
        missing = {cid: m for cid, m in metas.items() if SENTENCE_VECTORS not in m}
        if missing:
            rows = sentence_rows(store, missing)
            ids = list(rows)
            store.chunks.update(ids=ids, metadatas=[
                {SENTENCE_VECTORS: pack_vectors(rows[c][0]),
                 "sents": json.dumps([list(span) for span in rows[c][1]], separators=(",", ":"))} for c in ids])
            moved += len(ids)
    reports = store.snapshot().reports
    rids = [rid for rid in counts if rid in reports]
    if rids:
        store.catalog.update(ids=[f"report:{rid}" for rid in rids], metadatas=[{"sentences": counts[r]} for r in rids])
    store.client.delete_collection(store.legacy_name)
    store.legacy = None
    store.bump()  # the catalog changed: every process re-reads it
    return moved


def sentence_rows(store: Store, metas: dict[str, dict[str, Any]]) -> dict[str, tuple[np.ndarray, list[tuple[int, int]]]]:
    """Sentence vectors and spans of chunks from the old sentence collection (complete chunks only)."""
    assert store.legacy is not None
    sids = [f"{cid}:{n}" for cid, m in metas.items() for n in range(int(m["n_sent"]))]
    got = store.legacy.get(ids=sids, include=["embeddings", "metadatas"])
    rows = {i: (e, m) for i, e, m in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True)}
    out = {}
    for cid, meta in metas.items():
        found = [rows.get(f"{cid}:{n}") for n in range(int(meta["n_sent"]))]
        if all(f is not None for f in found):  # a chunk missing any is left for its re-ingest
            vectors = np.asarray([f[0] for f in found if f is not None], dtype=np.float32)
            spans = [(int(f[1]["start"]), int(f[1]["end"])) for f in found if f is not None]
            out[cid] = (vectors.reshape(len(found), -1), spans)
    return out

