"""The bench's exact-search view of the plain-LangChain baseline (bench/systems.py)."""

from __future__ import annotations

import hashlib
import uuid

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from bench.systems import ExactSearch, LangChainSystem


class Seeded(Embeddings):
    """Unit vectors drawn from a seed per text: a stand-in for the model with known geometry."""

    def _one(self, text: str) -> list[float]:
        v = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest(), 16)).normal(size=16)
        return list(v / np.linalg.norm(v))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


def test_exact_search_returns_the_true_nearest_chunks() -> None:
    emb = Seeded()
    texts = [f"passage number {i} about topic {i % 7}" for i in range(60)]
    chunks = [Document(page_content=t, metadata={"doc": f"d{i % 5}", "start_index": 10 * i}) for i, t in enumerate(texts)]
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    lc = LangChainSystem.build(chunks, emb, client, collection=f"lc-{uuid.uuid4().hex[:8]}")
    exact = ExactSearch(lc)
    vectors = np.array(emb.embed_documents(texts))
    for question in ("what about topic 3", "passage 12", "something else entirely"):
        q = np.array(emb.embed_query(question))
        truth = [texts[i] for i in np.argsort(((vectors - q) ** 2).sum(axis=1))[:5]]
        got = exact.ask(question, 5)
        assert got.answered and [h.text for h in got.hits] == truth
        first = got.hits[0]
        assert first.start == 10 * texts.index(first.text) and first.end == first.start + len(first.text)
        assert first.doc == f"d{texts.index(first.text) % 5}" and first.quote == first.text[:400]
        # 60 vectors: Chroma's graph search finds the same five.
        assert [h.text for h in lc.ask(question, 5).hits] == truth
