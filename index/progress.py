"""Ingest progress: what an ingest is doing, for the CLI's bar and the bot's status message.

Encoding sentences is nearly all of an ingest's time (bench: 1.05x the model's encode alone), and a
batch of reports, or one long PDF, is encoded in one go. So progress is counted in sentences while
they are encoded, not only in files read: otherwise a 300-page PDF would sit at "0 of 1" for minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .embed import Embedder

# Sentences per model call: progress moves every ~5 s on 2 cores. Calls take the texts longest
# first, as one call would batch them, so the vectors are those of one call (to within 2e-7) and
# the time is the same (ISW: 0.95-1.09x, within the machine's noise).
EMBED_STEP = 512
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where an ingest is: ``done`` of ``total`` inputs, an input being embedded counting by the share
    of its sentences encoded (so ``done`` only grows)."""

    stage: str  # "reading" an input, "embedding" sentences, "indexing" keywords, or "done"
    what: str  # the input being read, or the first of those being embedded ("" after them)
    done: float
    total: int
    current: int = 0  # reading: which input, from 1
    batch: int = 0  # embedding: how many inputs are encoded together
    encoded: int = 0  # embedding: sentences encoded so far of ``sentences``
    sentences: int = 0


Progress = Callable[[IngestProgress], None]


class Tracker:
    """An ingest's position, told to a ``Progress`` callback (or to nobody)."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.finished = 0  # inputs with their outcome settled

    def tell(self, stage: str, what: str = "", *, share: float = 0.0, **counts: int) -> None:
        """Report ``stage``; ``share`` of the inputs under way counts towards ``done``."""
        if self.progress is None:
            return
        done = self.total if stage == "done" else self.finished + share
        try:
            self.progress(IngestProgress(stage, what, done, self.total, **counts))
        except Exception:  # a display that fails (a closed event loop, a broken terminal) never sinks an ingest
            log.warning("ingest progress display failed; the ingest goes on without it", exc_info=True)
            self.progress = None

    def embed(self, embedder: Embedder, texts: list[str], what: str, inputs: int) -> np.ndarray:
        """``texts``' vectors, in order, telling the encoding's progress; ``inputs`` are then finished."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        self.tell("embedding", what, batch=inputs, sentences=len(texts))  # the first call may load the model
        parts = []
        for start in range(0, len(order), EMBED_STEP):
            parts.append(embedder.embed([texts[i] for i in order[start:start + EMBED_STEP]]))
            encoded = min(start + EMBED_STEP, len(texts))
            self.tell("embedding", what, share=inputs * encoded / len(texts), batch=inputs, encoded=encoded,
                      sentences=len(texts))
        self.finished += inputs
        if not parts:
            return embedder.embed([])
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors
