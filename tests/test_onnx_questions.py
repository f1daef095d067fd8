"""Questions through the ONNX export of the real model: the vectors sentence-transformers gives, made once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.embed import SentenceTransformerEmbedder
from index.onnx_questions import cache_key

pytestmark = pytest.mark.model

QUESTIONS = [
    "What did Xi commit to?",
    "Where did Wagner make gains near Bakhmut in January 2023?",
    "x",
    "Что сказал Путин о переговорах?",
    "Tell me about <b>HTML</b> & “quotes” — 😀",
    " ".join(["What did the ISW assessment of the Kherson counteroffensive say about supply lines"] * 30),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> tuple[SentenceTransformerEmbedder, Path]:
    cache = tmp_path_factory.mktemp("models")
    emb = SentenceTransformerEmbedder(cache_dir=cache)
    emb._model = real_embedder._load()  # the session's loaded model: only the export is new here
    emb.embed_questions(["warm up"])
    return emb, cache


def test_question_vectors_are_the_models(exported: tuple[SentenceTransformerEmbedder, Path],
                                         real_embedder: Any) -> None:
    emb, _ = exported
    assert emb.question_runtime == "onnxruntime"
    want = real_embedder.embed(QUESTIONS)
    together = emb.embed_questions(QUESTIONS)
    alone = np.vstack([emb.embed_questions([q]) for q in QUESTIONS])
    assert together.shape == alone.shape == want.shape
    assert np.abs(together - want).max() < 1e-5
    assert np.abs(alone - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_a_later_process_loads_the_export_without_torch(exported: tuple[SentenceTransformerEmbedder, Path]) -> None:
    emb, cache = exported
    files = sorted(cache.iterdir())
    assert [f.suffix for f in files] == [".json", ".onnx", ".json"]  # sidecar, graph, tokenizer
    stamps = [(f.stat().st_ino, f.stat().st_mtime_ns if f.suffix == ".json" else 0) for f in files]
    code = (
        "import sys, json; from pathlib import Path; from index.embed import SentenceTransformerEmbedder\n"
        f"e = SentenceTransformerEmbedder(cache_dir=Path({str(cache)!r}))\n"
        f"v = e.embed_questions({QUESTIONS[:2]!r})\n"
        "print(json.dumps([e.question_runtime, 'torch' in sys.modules, v.tolist()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}, cwd=Path(__file__).parent.parent)
    import json

    runtime, torch_loaded, vectors = json.loads(out.stdout.strip().splitlines()[-1])
    assert runtime == "onnxruntime" and not torch_loaded
    assert np.abs(np.asarray(vectors) - emb.embed_questions(QUESTIONS[:2])).max() < 1e-6
    # Loaded, not made again (a new export replaces the files); only the graph's time is touched, as used.
    assert [(f.stat().st_ino, f.stat().st_mtime_ns if f.suffix == ".json" else 0) for f in files] == stamps


def test_the_question_thread_count_reaches_the_runtime(exported: tuple[SentenceTransformerEmbedder, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from index import Briefbot, Settings

    _, cache = exported
    monkeypatch.setenv("BRIEFBOT_QUESTION_THREADS", "2")
    svc = Briefbot(Settings(store=cache.parent / "threads-store", model_cache=cache, _env_file=None))
    svc.embedder.embed_questions(QUESTIONS[:1])  # type: ignore[attr-defined]
    options = svc.embedder._onnx.session.get_session_options()  # type: ignore[attr-defined]
    assert options.intra_op_num_threads == 2
    default = SentenceTransformerEmbedder(cache_dir=cache)
    default.embed_questions(QUESTIONS[:1])
    assert default._onnx.session.get_session_options().intra_op_num_threads == 1


def test_a_damaged_export_is_made_again(tmp_path: Path, exported: tuple[SentenceTransformerEmbedder, Path],
                                        real_embedder: Any) -> None:
    emb, cache = exported
    for f in cache.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    graph = next(tmp_path.glob("*.onnx"))
    graph.write_bytes(graph.read_bytes()[: 1000])  # a disk that filled up mid-write
    # Beside it, exports an older install made: one unused for 40 days, one used yesterday.
    day = 86400
    for name, age in (("old", 40 * day), ("recent", 1 * day)):
        for suffix in (".onnx", ".json", ".tokenizer.json"):
            f = tmp_path / f"{name}{suffix}"
            f.write_text("{}")
            os.utime(f, (time.time() - age, time.time() - age))
    again = SentenceTransformerEmbedder(cache_dir=tmp_path)
    again._model = real_embedder._load()
    v = again.embed_questions(QUESTIONS[:1])
    assert again.question_runtime == "onnxruntime"
    assert np.abs(v - real_embedder.embed(QUESTIONS[:1])).max() < 1e-5
    assert graph.stat().st_size > 1_000_000
    assert sorted(f.name for f in tmp_path.iterdir() if not f.name.startswith(graph.stem)) == [
        "recent.json", "recent.onnx", "recent.tokenizer.json"]


def test_questions_fall_back_to_the_model_when_asked_or_when_no_export_fits(tmp_path: Path,
                                                                           real_embedder: Any) -> None:
    off = SentenceTransformerEmbedder(onnx_questions=False, cache_dir=tmp_path)
    off._model = real_embedder._load()
    assert np.abs(off.embed_questions(QUESTIONS[:1]) - real_embedder.embed(QUESTIONS[:1])).max() == 0
    assert off.question_runtime == "sentence-transformers"
    assert not list(tmp_path.iterdir())

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    cannot = SentenceTransformerEmbedder(cache_dir=blocked)
    cannot._model = real_embedder._load()
    assert np.abs(cannot.embed_questions(QUESTIONS[:1]) - real_embedder.embed(QUESTIONS[:1])).max() == 0
    assert cannot.question_runtime == "sentence-transformers"


def test_the_export_is_named_by_model_files_and_library_versions(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1234")
    first = cache_key(str(model))
    assert cache_key(str(model)) == first
    (model / "weights.bin").write_bytes(b"12345")
    assert cache_key(str(model)) != first
    assert cache_key("sentence-transformers/all-MiniLM-L6-v2") != cache_key("another/model")
