"""Question vectors through ONNX Runtime: the same model, exported once per machine, a third of the CPU.

A question is ~15 word pieces, and for inputs that small PyTorch's per-operator overhead is most of
the work: one question costs ~26 ms of CPU in sentence-transformers on these machines, ~10-12 ms in
ONNX Runtime, with vectors equal to within 3e-7. Reports are still embedded by sentence-transformers
(long batches, where the two run alike).

The export is made from the loaded sentence-transformers model itself (``torch.onnx``), checked
against it on probe texts, and kept in a cache directory with the model's tokenizer, so later
processes load it without importing torch at all. A model that does not fit (pooling other than mean,
no fast tokenizer), a failed export or a failed check keeps questions on sentence-transformers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Bump when the exported graph or its sidecar changes.
EXPORT_VERSION = 1
OPSET = 17
# Texts the export must reproduce: short and long questions, one past the model's input limit,
# accents, quotes and an emoji.
PROBES = (
    "What did Xi commit to?",
    "x",
    "Where did Wagner Group fighters make gains near Bakhmut in January 2023, according to ISW?",
    "Café naïve “quoted” words — and an emoji 😀 in Кириллица",
    " ".join(["the front line moved again"] * 80),
)
MIN_COSINE = 0.9999
# Exports not loaded for this long (made for an older library version, another install) are removed
# when a new one is made: each holds the whole model (~90 MB for MiniLM).
STALE_DAYS = 30
SUFFIXES = (".tokenizer.json", ".json", ".onnx")


def default_cache_dir() -> Path:
    """Where exported models are kept: ``$XDG_CACHE_HOME/briefbot/models`` (``~/.cache`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "briefbot" / "models"


def cache_key(model_ref: str) -> str:
    """Names one export: the model (its files, for a local directory) and the libraries that made it."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}:{model_ref}".encode())
    path = Path(model_ref)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{int(st.st_mtime)}".encode())
    for dist in ("torch", "transformers", "sentence-transformers", "onnxruntime"):
        try:
            h.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{dist}=-".encode())
    return h.hexdigest()[:20]


class OnnxQuestionModel:
    """Tokenizer + ONNX graph + mean pooling + L2 normalisation, as the sentence-transformers model does."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        sidecar = json.loads(path.with_suffix(".json").read_text())
        self.inputs: list[str] = sidecar["inputs"]
        self.dim = int(sidecar["dim"])
        self.tokenizer = Tokenizer.from_str(path.with_suffix(".tokenizer.json").read_text())
        self.tokenizer.enable_truncation(int(sidecar["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(sidecar["pad_id"]), pad_token=sidecar["pad_token"])
        options = ort.SessionOptions()
        # One thread: ~10 ms of CPU and wall a question. Two cut the wall time to ~7 ms but cost ~11 ms
        # of CPU, and a bot answering 20 chats runs questions side by side: with one thread each, its
        # p95 over 20 chats on 2 cores, 0.5 of a core taken by another process, was 117-180 ms (five runs,
        # median 128) against 141-404 ms (median 151) with two.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that spin between passes take CPU from the searches running beside them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text."""
        encs = self.tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64)}
        hidden = self.session.run(None, {k: feed[k] for k in self.inputs})[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def load_or_export(model_ref: str, cache_dir: Path, st_model: Any, *, threads: int = 1) -> OnnxQuestionModel:
    """The cached export of ``model_ref``, made now (from ``st_model()``, which loads the model) if missing.

    Raises ``ValueError`` for a model this export does not fit, or whatever the export raised."""
    path = cache_dir / f"{cache_key(model_ref)}.onnx"
    if path.exists():
        try:
            model = OnnxQuestionModel(path, threads)
        except Exception as exc:  # a damaged cache entry: made again below
            log.warning("cached question model %s unusable (%s); exporting it again", path, exc)
        else:
            with contextlib.suppress(OSError):  # its last use, for pruning (a read-only cache is fine)
                os.utime(path)
            return model
    _export(st_model(), path)
    _prune(cache_dir, keep=path)
    return OnnxQuestionModel(path, threads)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Remove exports last used more than STALE_DAYS ago."""
    cutoff = time.time() - STALE_DAYS * 86400
    for graph in cache_dir.glob("*.onnx"):
        try:
            if graph != keep and graph.stat().st_mtime < cutoff:
                for suffix in SUFFIXES[::-1]:  # the graph first: without it the rest is never read
                    graph.with_suffix(suffix).unlink(missing_ok=True)
                log.info("removed the unused question model %s", graph)
        except OSError as exc:
            log.warning("cannot remove %s: %s", graph, exc)


def _export(model: Any, path: Path) -> None:
    import torch

    transformer, pooling = model[0], model[1] if len(model) > 1 else None
    kinds = [type(m).__name__ for m in model]
    config = pooling.get_config_dict() if pooling is not None and hasattr(pooling, "get_config_dict") else {}
    mean_only = config.get("pooling_mode", "mean") == "mean" and not any(
        v for k, v in config.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) or not mean_only:
        raise ValueError(f"modules {kinds} with pooling {config}: only mean pooling is exported")
    tokenizer = model.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError("the model has no fast (Rust) tokenizer")
    auto = transformer.auto_model.eval()
    sample = tokenizer(["what did the report say"], return_tensors="pt")
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.auto = auto

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.auto(**dict(zip(inputs, args, strict=True))).last_hidden_state  # type: ignore[no-any-return]

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out = Path(tmp) / path.name
        axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, "hidden"]}
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The tracer warns of each Python-level branch it fixes; the probes below check the result.
            warnings.simplefilter("ignore")
            torch.onnx.export(Encoder(), tuple(sample[k] for k in inputs), str(out), input_names=inputs,
                              output_names=["hidden"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        out.with_suffix(".tokenizer.json").write_text(backend.to_str())
        out.with_suffix(".json").write_text(json.dumps({
            "inputs": inputs, "dim": int(model.get_embedding_dimension() or 0),
            "max_length": int(model.max_seq_length), "pad_id": int(tokenizer.pad_token_id or 0),
            "pad_token": str(tokenizer.pad_token or "[PAD]")}))
        exported = OnnxQuestionModel(out)
        want = np.asarray(model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True))
        # Together (padded to the longest) and one by one (no padding), as questions arrive.
        got = exported.embed(list(PROBES))
        alone = np.vstack([exported.embed([p]) for p in PROBES])
        if got.shape != want.shape or alone.shape != want.shape:
            raise ValueError(f"the export gives vectors of shape {got.shape}, the model {want.shape}")
        worst = float(min(np.min(np.sum(want * got, axis=1)), np.min(np.sum(want * alone, axis=1))))
        if worst < MIN_COSINE:
            raise ValueError(f"the export disagrees with the model (cosine {worst:.6f} on a probe)")
        for suffix in SUFFIXES:  # the graph last: it marks a whole export
            os.replace(out.with_suffix(suffix), path.with_suffix(suffix))
    log.info("exported the question model to %s (probe cosine >= %.7f)", path, worst)
