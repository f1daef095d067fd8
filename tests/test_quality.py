"""Quality with the real model: the done-when answer, and a regression floor on a fixed ISW sample.

The floors sit well under what bench/ measures (docs/BENCHMARKS.md); they catch breakage, they are
not the results. The sample is fixed (every 4th question, its reports plus 8 distractor reports).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import Briefbot, Settings
from tests.conftest import ISW, ROOT, SAMPLES, need_shared
from tests.helpers import check_verbatim

pytestmark = [pytest.mark.model, pytest.mark.timeout(900)]
DATA = ROOT / "tests" / "data"
XI_QUOTE = "Xi praised Putin, reaffirmed China’s commitment to Russia in the UNSC"


def load(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def test_sample_answers_what_xi_committed_to(tmp_path: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    svc = Briefbot(Settings(store=tmp_path / "s", _env_file=None), embedder=real_embedder)
    svc.ingest([str(SAMPLES)])
    answer = svc.ask("What did Xi commit to?")
    assert answer.answered
    assert XI_QUOTE in answer.passages[0].quote
    check_verbatim(svc, answer)
    assert not svc.ask("What is the boiling point of water at sea level?").answered


@pytest.fixture(scope="module")
def isw_sample(tmp_path_factory, real_embedder):  # type: ignore[no-untyped-def]
    need_shared(ISW)
    questions = load("isw_questions.jsonl")[::4]
    files = {q["file"] for q in questions}
    others = sorted(p.name for p in ISW.glob("*.md") if p.name not in files)[::10][:8]
    paths = [str(ISW / f) for f in sorted(files | set(others)) if (ISW / f).exists()] + [str(SAMPLES)]
    svc = Briefbot(Settings(store=tmp_path_factory.mktemp("isw") / "store", _env_file=None), embedder=real_embedder)
    assert not svc.ingest(paths).failed
    return svc, questions


def test_isw_floor(isw_sample) -> None:  # type: ignore[no-untyped-def]
    svc, questions = isw_sample
    hit5 = refused = 0
    for q in questions:
        answer = svc.ask(q["question"], k=5)
        check_verbatim(svc, answer)
        refused += not answer.answered
        evidence = [" ".join(e.split()) for e in q["evidence"]]
        hit5 += any(e in " ".join(p.text.split()) for p in answer.passages for e in evidence)
    assert hit5 / len(questions) >= 0.6
    assert refused / len(questions) <= 0.15


def test_isw_off_topic_refused(isw_sample) -> None:  # type: ignore[no-untyped-def]
    svc, _ = isw_sample
    answered = [q["question"] for q in load("offtopic_questions.jsonl") if svc.ask(q["question"]).answered]
    assert answered == []
