"""Chunk rows for ranking, read once and kept for the questions that follow."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .store import SENTENCE_VECTORS, Store

# Per cached row beyond its arrays and text: the metadata dict, the row object, the LRU entry.
ROW_OVERHEAD = 600


@dataclass(frozen=True, slots=True)
class Row:
    """What ranking needs of one chunk: its metadata (without the packed vectors), text, the vectors
    of its sentences, and its own vector when it was read."""

    meta: dict[str, Any]
    text: str
    vectors: np.ndarray
    embedding: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the row."""
        return (ROW_OVERHEAD + len(self.text) + self.vectors.nbytes
                + (0 if self.embedding is None else self.embedding.nbytes))


class RowCache:
    """The chunk rows of recent questions' candidates, least recently used out first, for one generation.

    A question ranks ~80 candidate chunks. Reading them costs Chroma ~0.1 ms an id (8 ms for 80 on the
    ISW store, a round trip more against a server) and decoding their sentence vectors 3 ms more, while
    the questions of a desk keep returning to the same reports. Chunk ids are content-addressed (a
    report's id is the hash of its text), so a cached row cannot go stale; the cache is still emptied
    when the generation moves, so a forgotten report's rows do not outlive it.
    """

    def __init__(self, store: Store, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._rows: OrderedDict[str, Row] = OrderedDict()
        self._bytes = 0
        self._generation: str | None = None
        self._lock = threading.Lock()

    def rows(self, ids: Sequence[str], generation: str, dim: int, need_embedding: Collection[str] = ()
             ) -> dict[str, Row]:
        """The rows of ``ids`` still stored; ``need_embedding``: ids whose chunk vector is wanted too."""
        out: dict[str, Row] = {}
        with self._lock:
            if generation != self._generation:
                self._clear(generation)
            for cid in ids:
                row = self._rows.get(cid)
                if row is not None and (row.embedding is not None or cid not in need_embedding):
                    self._rows.move_to_end(cid)
                    out[cid] = row
            self.hits += len(out)
            self.misses += len(ids) - len(out)
        missing = [cid for cid in ids if cid not in out]
        if not missing:
            return out
        got = self.store.get(missing, documents=True, embeddings=any(cid in need_embedding for cid in missing))
        vectors = self.store.sentence_vectors({cid: row[0] for cid, row in got.items()}, dim)
        fresh = {
            cid: Row({k: v for k, v in meta.items() if k != SENTENCE_VECTORS}, text or "", vectors[cid],
                     None if emb is None else np.asarray(emb, dtype=np.float32))
            for cid, (meta, emb, text) in got.items() if cid in vectors  # else deleted since the query
        }
        out.update(fresh)
        if self.max_bytes > 0:
            with self._lock:
                if self._generation == generation:
                    for cid, row in fresh.items():
                        self._put(cid, row)
        return out

    def _put(self, cid: str, row: Row) -> None:
        old = self._rows.pop(cid, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._rows[cid] = row
        self._bytes += row.nbytes
        while self._bytes > self.max_bytes and self._rows:
            _, gone = self._rows.popitem(last=False)
            self._bytes -= gone.nbytes

    def _clear(self, generation: str) -> None:
        self._rows.clear()
        self._bytes = 0
        self._generation = generation

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the cached rows."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._rows)
