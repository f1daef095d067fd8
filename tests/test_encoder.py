"""QuestionEncoder: questions that arrive together share one model pass, each gets its own vector."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from index.embed import HashEmbedder, QuestionEncoder


class Slow(HashEmbedder):
    """The hash embedder with a model-like pause per pass, recording each pass's batch."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(0.05)
        if self.fail_on in texts:
            raise RuntimeError("model failed")
        return super().embed(texts)


def ask_all(encoder: QuestionEncoder, questions: list[str]) -> dict[str, np.ndarray | BaseException]:
    out: dict[str, np.ndarray | BaseException] = {}
    start = threading.Barrier(len(questions))

    def one(q: str) -> None:
        start.wait()
        try:
            out[q] = encoder.encode(q)
        except BaseException as exc:
            out[q] = exc

    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_concurrent_questions_share_passes_and_get_their_own_vectors() -> None:
    model = Slow()
    questions = [f"what happened at bridge {n} on the river" for n in range(20)]
    got = ask_all(QuestionEncoder(model), questions)
    reference = HashEmbedder()
    for q in questions:
        assert np.allclose(got[q], reference.embed([q])[0])
    assert sum(len(b) for b in model.batches) == 20  # each question encoded exactly once
    assert len(model.batches) < 20, model.batches  # and some passes carried several


def test_one_at_a_time_is_one_pass_each_and_repeats_come_from_the_cache() -> None:
    model = Slow()
    encoder = QuestionEncoder(model)
    for q in ("first question", "second question", "first question"):
        encoder.encode(q)
    assert model.batches == [["first question"], ["second question"]]


def test_a_failed_pass_fails_its_callers_and_the_next_pass_works() -> None:
    model = Slow(fail_on="bad question")
    encoder = QuestionEncoder(model)
    got = ask_all(encoder, ["bad question", "good question"])
    assert isinstance(got["bad question"], RuntimeError)
    model.fail_on = None
    assert encoder.encode("good question").shape == (model.dim,)
    assert encoder.encode("bad question").shape == (model.dim,)  # failures are not cached


@pytest.mark.parametrize("n", [0, 1, 3])
def test_cache_is_bounded(n: int) -> None:
    encoder = QuestionEncoder(HashEmbedder(), cache=n)
    for i in range(10):
        encoder.encode(f"question {i}")
    assert len(encoder._cache) == n
