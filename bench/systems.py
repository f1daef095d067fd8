"""The systems under comparison behind one interface: briefbot and the two baselines.

Each answers ``ask(question, k)`` with a ``Result``: passages carrying the key of the document
they come from and their ``[start, end)`` in that system's own text of it, so the scorers can
check overlap with a gold span without caring how each system stores text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .common import K, model_path


@dataclass(frozen=True, slots=True)
class Hit:
    """One returned passage, in system-neutral form."""

    doc: str  # the document's key (a SQuAD article id, an ISW file name)
    start: int
    end: int
    text: str
    quote: str  # what a reader sees first; for the baselines the first 400 characters


@dataclass(slots=True)
class Result:
    """A system's answer to one question."""

    answered: bool
    hits: list[Hit] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Source:
    """One document as the baselines see it: the raw text a user's loader would read."""

    key: str
    text: str


BASELINE_QUOTE = 400  # chars of a baseline passage counted as its "quote" (briefbot's quote cap)


class BriefbotSystem:
    """``Briefbot.ask`` mapped onto document keys (``report_id -> key``)."""

    name = "briefbot"

    def __init__(self, service: Any, keys: dict[str, str]) -> None:
        self.service = service
        self.keys = keys

    def ask(self, question: str, k: int = K) -> Result:
        """One question, ``k`` passages, or a refusal."""
        answer = self.service.ask(question, k=k)
        hits = [
            Hit(self.keys.get(p.report_id, p.report_id), p.start, p.end, p.text, p.quote)
            for p in answer.passages
        ]
        return Result(answer.answered, hits)


def splitter() -> Any:
    """The plain-LangChain splitter of DESIGN.md: 1000 characters, 200 overlap, start offsets kept."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)


def split_sources(sources: Sequence[Source]) -> list[Any]:
    """LangChain ``Document`` chunks of every source, with ``doc`` and ``start_index`` metadata."""
    from langchain_core.documents import Document

    docs = [Document(page_content=s.text, metadata={"doc": s.key}) for s in sources]
    return list(splitter().split_documents(docs))


def hf_embeddings() -> Any:
    """LangChain's HuggingFaceEmbeddings over the same bundled MiniLM, defaults otherwise."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=model_path(), model_kwargs={"device": "cpu"})


class LangChainSystem:
    """Plain LangChain: splitter + ``langchain_chroma.Chroma`` + MiniLM, ``similarity_search(k=5)``."""

    name = "plain LangChain"

    def __init__(self, vectorstore: Any) -> None:
        self.vs = vectorstore

    @classmethod
    def build(cls, chunks: Sequence[Any], embeddings: Any, client: Any, collection: str = "langchain",
              ) -> LangChainSystem:
        """Embed and store ``chunks`` (from ``split_sources``) in a fresh collection of ``client``."""
        from langchain_chroma import Chroma

        vs = Chroma(collection_name=collection, embedding_function=embeddings, client=client)
        for i in range(0, len(chunks), 2000):  # Chroma's max batch is ~5,461
            vs.add_documents(list(chunks[i:i + 2000]))
        return cls(vs)

    @classmethod
    def open(cls, embeddings: Any, client: Any, collection: str = "langchain") -> LangChainSystem:
        """An existing collection."""
        from langchain_chroma import Chroma

        return cls(Chroma(collection_name=collection, embedding_function=embeddings, client=client,
                          create_collection_if_not_exists=False))

    def ask(self, question: str, k: int = K) -> Result:
        """``similarity_search``: never refuses."""
        docs = self.vs.similarity_search(question, k=k)
        hits = []
        for d in docs:
            start = int(d.metadata.get("start_index", -1))
            hits.append(Hit(str(d.metadata.get("doc")), start, start + len(d.page_content), d.page_content,
                            d.page_content[:BASELINE_QUOTE]))
        return Result(True, hits)


class ExactSearch:
    """Plain LangChain's collection searched exactly: the question's vector against every stored one
    (Chroma's own metric, L2), where ``similarity_search`` walks Chroma's approximate HNSW graph
    (its defaults: ef_search 100), which misses some true neighbours and is built differently each
    time the same chunks are added. Shows how much of the baseline's figure is that approximation."""

    name = "plain LangChain, exact search"

    def __init__(self, lc: LangChainSystem) -> None:
        got = lc.vs.get(include=["embeddings", "documents", "metadatas"])
        self.vectors = np.asarray(got["embeddings"], dtype=np.float32)
        self.texts: list[str] = list(got["documents"])
        self.metas: list[dict[str, Any]] = list(got["metadatas"])
        self.embeddings = lc.vs.embeddings

    def ask(self, question: str, k: int = K) -> Result:
        """The ``k`` nearest chunks, ties by storage order: never refuses."""
        v = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        order = np.argsort(((self.vectors - v) ** 2).sum(axis=1), kind="stable")[:k]
        hits = []
        for i in order:
            start, text = int(self.metas[i].get("start_index", -1)), self.texts[i]
            hits.append(Hit(str(self.metas[i].get("doc")), start, start + len(text), text, text[:BASELINE_QUOTE]))
        return Result(True, hits)


class BM25System:
    """bm25s alone over given passages (LangChain's 1000-char chunks, or paragraphs): never refuses."""

    def __init__(self, name: str, passages: Sequence[tuple[str, int, str]]) -> None:
        import bm25s
        import Stemmer

        self.name = name
        self.passages = list(passages)  # (doc key, start, text)
        self._stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize([p[2] for p in self.passages], stopwords="en", stemmer=self._stemmer,
                                show_progress=False)
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)

    def ask(self, question: str, k: int = K) -> Result:
        """Top ``k`` passages by BM25."""
        import bm25s

        q = bm25s.tokenize([question], stopwords="en", stemmer=self._stemmer, show_progress=False,
                           return_ids=False)
        # Like any plain retriever it returns k passages even when no query word scores.
        idx, _scores = self.bm25.retrieve(q, k=min(k, len(self.passages)), show_progress=False)
        hits = []
        for i in idx[0]:
            key, start, text = self.passages[int(i)]
            hits.append(Hit(key, start, start + len(text), text, text[:BASELINE_QUOTE]))
        return Result(True, hits)


def chunk_passages(chunks: Sequence[Any]) -> list[tuple[str, int, str]]:
    """LangChain chunks as BM25 passages."""
    return [(str(c.metadata["doc"]), int(c.metadata["start_index"]), c.page_content) for c in chunks]


def paragraph_passages(sources: Sequence[Source]) -> list[tuple[str, int, str]]:
    """Blank-line-separated paragraphs of each source, with their offsets, as BM25 passages."""
    import re

    out = []
    for s in sources:
        for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", s.text, re.DOTALL):
            out.append((s.key, m.start(), m.group()))
    return out
