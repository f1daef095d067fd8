"""Calibrate the refusal gate on data built for it: never on the questions results are reported on.

    python -m bench.gate SQUAD_STORE ISW_STORE

Positives: answerable SQuAD TUNING-split questions about in-store articles, and
tests/data/calibration_ontopic.jsonl and tuning_ontopic.jsonl over ISW. Negatives: SQuAD TUNING-split questions about the
five held-out articles, and tests/data/calibration_offtopic.jsonl. Fits a logistic model on
(best-sentence cosine, question coverage, chunk cosine) and prints the threshold table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from index import Briefbot, Filters, Settings

from .squad import split_of

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "squad2-dev"

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def features(svc: Briefbot, question: str) -> list[float]:
    """The gate's inputs for one question: its top hit's evidence."""
    hits, _ = svc.searcher.search(question, Filters(), 1)
    if not hits:
        return [0.0, 0.0, 0.0]
    return [hits[0].sentence_cos, hits[0].coverage, hits[0].chunk_cos]


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, steps: int = 4000) -> np.ndarray:
    """Weighted logistic regression by gradient descent (three features and a bias)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        w -= 2.0 * (xb.T @ ((p - y) * weight)) / weight.sum()
    return w


def main(squad_store: str, isw_store: str, n: int = 500) -> None:
    squad = Briefbot(Settings(store=Path(squad_store), _env_file=None))
    isw = Briefbot(Settings(store=Path(isw_store), _env_file=None), embedder=squad.embedder)
    arts = sorted(json.loads(line)["id"] for line in (SQUAD / "articles.jsonl").read_text().splitlines())
    held = set(arts[-5:])
    qs = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines()]
    qs = [q for q in qs if q["answerable"] and split_of(q["id"]) == "tuning"]
    rng = np.random.default_rng(11)
    pos = [q["question"] for q in qs if q["article"] not in held]
    pos = [pos[i] for i in rng.choice(len(pos), n, replace=False)]
    neg = [q["question"] for q in qs if q["article"] in held][:n]

    def load(name: str) -> list[str]:
        return [json.loads(line)["question"] for line in (DATA / name).read_text().splitlines() if line.strip()]

    sets = {
        "squad_in": (np.array([features(squad, q) for q in pos]), 1),
        "squad_out": (np.array([features(squad, q) for q in neg]), 0),
        "isw_on": (np.array([features(isw, q) for q in load("calibration_ontopic.jsonl") + load("tuning_ontopic.jsonl")]), 1),
        "isw_off": (np.array([features(isw, q) for q in load("calibration_offtopic.jsonl")]), 0),
    }
    arrays: dict[str, Any] = {k: v[0] for k, v in sets.items()}
    np.savez("/tmp/gate_features.npz", **arrays)
    x = np.vstack([v[0] for v in sets.values()])
    y = np.concatenate([np.full(len(v[0]), v[1]) for v in sets.values()])
    # Each of the four sets weighs the same, whatever its size.
    weight = np.concatenate([np.full(len(v[0]), 1.0 / len(v[0])) for v in sets.values()])
    w = fit(x, y, weight)
    print("weights (sentence_cos, coverage, chunk_cos, bias):", np.round(w, 3).tolist())
    for name, (feats, label) in sets.items():
        z = np.hstack([feats, np.ones((len(feats), 1))]) @ w
        print(name, "label", label, "min/median/max logit", np.round([z.min(), np.median(z), z.max()], 2).tolist())
    for t in np.arange(-2.0, 2.01, 0.25):
        row = []
        for name, (feats, label) in sets.items():
            z = np.hstack([feats, np.ones((len(feats), 1))]) @ w
            row.append(f"{name} {'answered' if label else 'refused'} {np.mean((z >= t) if label else (z < t)):.3f}")
        print(f"logit >= {t:+.2f}: " + "  ".join(row))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
