"""Hybrid retrieval: dense chunk and sentence vectors from Chroma fused with bm25s scores."""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embed import Embedder
from .keyword import KeywordIndex, tokenize
from .store import Catalog, Store
from .types import Filters

log = logging.getLogger(__name__)

# Candidate depth per retriever: deep enough that the fused top 10 rarely misses a chunk any one
# retriever ranks highly, shallow enough to keep a query within a few milliseconds of Chroma time.
DENSE_DEPTH = 40
SENTENCE_DEPTH = 60
KEYWORD_DEPTH = 40
# Fusion weights of (chunk cosine, best-sentence cosine, max-normalised BM25). Chosen on the SQuAD
# tuning split (questions whose id hash is even; see bench/) and never on the reported split.
W_CHUNK, W_SENTENCE, W_KEYWORD = 0.30, 0.40, 0.30


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked chunk and the evidence that ranked it."""

    chunk_id: str
    report_id: str
    score: float
    chunk_cos: float
    sentence_cos: float
    keyword: float


class Searcher:
    """Ranks chunks for a question; keeps a keyword index in step with the store's generation."""

    def __init__(self, store: Store, embedder: Embedder, cache_dir: Path | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "briefbot-keyword"
        self._keyword: tuple[str, KeywordIndex] | None = None
        self._lock = threading.Lock()

    def keyword_index(self, catalog: Catalog) -> KeywordIndex:
        """The BM25 index for the catalog's generation: in memory, from the disk cache, or rebuilt."""
        with self._lock:
            if self._keyword and self._keyword[0] == catalog.generation:
                return self._keyword[1]
            path = self.cache_dir / f"gen-{catalog.generation or 'empty'}"
            index = KeywordIndex.load(path) if path.exists() else None
            if index is None:
                visible = catalog.visible
                index = KeywordIndex.build(
                    (cid, meta["report_id"], text)
                    for cid, text, meta in self.store.iter_chunks()
                    if meta["report_id"] in visible
                )
                try:
                    index.save(path)
                    for old in self.cache_dir.glob("gen-*"):
                        if old != path:
                            _rmtree(old)
                except OSError as exc:  # a read-only cache only costs a rebuild next start
                    log.warning("cannot cache the keyword index at %s: %s", path, exc)
            self._keyword = (catalog.generation, index)
            return index

    def allowed(self, catalog: Catalog, filters: Filters) -> set[str]:
        """Visible report ids that pass the date and source filters."""
        visible = catalog.visible
        if not filters.active:
            return visible
        needle = (filters.source or "").casefold()
        out = set()
        for rid in visible:
            rec = catalog.reports[rid]
            if filters.since and (not rec.date or rec.date < filters.since):
                continue
            if filters.until and (not rec.date or rec.date > filters.until):
                continue
            if needle and needle not in f"{rec.publisher or ''}\n{rec.title}".casefold():
                continue
            out.add(rid)
        return out

    def search(self, question: str, filters: Filters, depth: int, qvec: np.ndarray | None = None,
               ) -> tuple[list[Hit], Catalog]:
        """The best ``depth`` chunks for a question, fused from the three retrievers."""
        catalog = self.store.snapshot()
        allowed = self.allowed(catalog, filters)
        if not allowed:
            return [], catalog
        keyword = self.keyword_index(catalog)
        if qvec is None:
            qvec = self.embedder.embed([question])[0]
        restrict = sorted(allowed) if filters.active else None

        dense = {cid: cos for cid, cos, m in self.store.query("chunks", qvec, DENSE_DEPTH, restrict)
                 if m["report_id"] in allowed}
        sentences: dict[str, float] = {}
        for _sid, cos, m in self.store.query("sentences", qvec, SENTENCE_DEPTH, restrict):
            if m["report_id"] in allowed:
                cid = f"{m['report_id']}:{m['seq']}"
                sentences[cid] = max(cos, sentences.get(cid, -1.0))

        tokens = tokenize(question)
        bm25 = keyword.scores(tokens)
        if filters.active or len(allowed) < len(catalog.reports):
            bm25 = np.where(np.isin(keyword.report_ids, list(allowed)), bm25, 0.0)
        top = np.argsort(-bm25)[:KEYWORD_DEPTH] if len(bm25) else np.array([], dtype=int)
        top_bm25 = float(bm25[top[0]]) if len(top) else 0.0
        keyword_hits = {keyword.ids[i]: float(bm25[i]) / top_bm25 for i in top if bm25[i] > 0}

        # A chunk one retriever missed gets that retriever's weakest retrieved score: a bound that
        # keeps it comparable without fetching its vector.
        floor_dense = min(dense.values(), default=0.0)
        floor_sentence = min(sentences.values(), default=0.0)
        hits = []
        for cid in dense.keys() | sentences.keys() | keyword_hits.keys():
            c = dense.get(cid, floor_dense)
            s = sentences.get(cid, floor_sentence)
            k = keyword_hits.get(cid, 0.0)
            hits.append(Hit(cid, cid.rsplit(":", 1)[0], W_CHUNK * c + W_SENTENCE * s + W_KEYWORD * k, c, s, k))
        hits.sort(key=lambda h: -h.score)
        return hits[:depth], catalog


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
