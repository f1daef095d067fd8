"""SQuAD-open: every SQuAD 2.0 dev article is one report; questions are asked of the whole store.

Splits. A question is in the TUNING split when ``int(sha1(id), 16) % 2 == 0`` and in the EVAL
split otherwise. Only EVAL is reported; tune on TUNING with ``evaluate``::

    from index import Briefbot, Settings
    from bench import squad
    svc = Briefbot(Settings(store=tmp, _env_file=None))
    squad.ingest(svc, squad.in_store_articles(), tmp / "articles")
    print(squad.evaluate(svc, squad.questions("tuning", held_out=None)))

Held out. The five last articles by id are never ingested; their answerable questions must be
refused. Every other answerable question must be answered (a refusal there is a false refusal).

A hit: a returned passage overlaps the gold paragraph's span in that system's text and contains
one of the gold answers (case-insensitive).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .common import SQUAD_DIR, K, Ranked, ranked_metrics
from .systems import BriefbotSystem, Result, Source

HELD_OUT_COUNT = 5
SEED = 20240601


@dataclass(frozen=True, slots=True)
class Article:
    """One SQuAD article: a report of the benchmark store."""

    id: str
    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Question:
    """One SQuAD question with its gold article, paragraph index and answers."""

    id: str
    question: str
    article: str
    paragraph: int
    answers: tuple[str, ...]
    answerable: bool

    @property
    def split(self) -> str:
        """``tuning`` or ``eval`` by the parity of the id's SHA-1."""
        return split_of(self.id)


def split_of(qid: str) -> str:
    """The split a question id belongs to."""
    return "tuning" if int(hashlib.sha1(qid.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "eval"


@cache
def articles() -> tuple[Article, ...]:
    """All 35 articles, sorted by id."""
    rows = [json.loads(line) for line in (SQUAD_DIR / "articles.jsonl").read_text().splitlines() if line.strip()]
    return tuple(sorted((Article(r["id"], r["title"], tuple(r["paragraphs"])) for r in rows), key=lambda a: a.id))


def held_out_ids() -> frozenset[str]:
    """The articles kept out of the store: the last five by id."""
    return frozenset(a.id for a in articles()[-HELD_OUT_COUNT:])


def in_store_articles() -> list[Article]:
    """The articles that are ingested."""
    held = held_out_ids()
    return [a for a in articles() if a.id not in held]


@cache
def all_questions() -> tuple[Question, ...]:
    """Every SQuAD 2.0 dev question, in file order."""
    out = []
    for line in (SQUAD_DIR / "questions.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Question(r["id"], r["question"], r["article"], int(r["paragraph"]),
                                tuple(a for a in r["answers"] if a.strip()), bool(r["answerable"])))
    return tuple(out)


def questions(split: str = "eval", *, held_out: bool | None = False, answerable: bool = True,
              n: int | None = None, seed: int = SEED, articles_in: Iterable[str] | None = None) -> list[Question]:
    """Questions of one split. ``held_out``: False in-store only, True held-out only, None both.

    ``n`` draws a fixed seeded sample; ``articles_in`` restricts to those articles (for --quick).
    """
    held = held_out_ids()
    allowed = set(articles_in) if articles_in is not None else None
    qs = [
        q for q in all_questions()
        if q.split == split and q.answerable == answerable
        and (held_out is None or (q.article in held) == held_out)
        and (allowed is None or q.article in allowed)
    ]
    if n is not None and n < len(qs):
        qs = sorted(random.Random(seed).sample(qs, n), key=lambda q: q.id)
    return qs


def markdown(article: Article) -> str:
    """The report file of an article: front matter with its title, paragraphs by blank lines."""
    return f"---\ntitle: {json.dumps(article.title)}\n---\n\n" + "\n\n".join(article.paragraphs) + "\n"


def raw_text(article: Article) -> str:
    """What the baselines index: the paragraphs joined by blank lines."""
    return "\n\n".join(article.paragraphs)


def sources(arts: Sequence[Article]) -> list[Source]:
    """Articles as baseline sources."""
    return [Source(a.id, raw_text(a)) for a in arts]


def ingest(service: Any, arts: Sequence[Article], directory: Path) -> dict[str, str]:
    """Write each article as ``<id>.md`` and ingest the directory; returns ``report_id -> article id``."""
    directory.mkdir(parents=True, exist_ok=True)
    for a in arts:
        (directory / f"{a.id}.md").write_text(markdown(a), encoding="utf-8")
    summary = service.ingest([str(directory)])
    if summary.failed:
        raise RuntimeError(f"SQuAD ingest failed: {[i.reason for i in summary.items if i.status == 'failed']}")
    return {i.report_id: Path(i.source).stem for i in summary.items if i.report_id}


@dataclass(slots=True)
class Gold:
    """Where each gold paragraph sits in one system's text of its article."""

    spans: dict[str, list[tuple[int, int] | None]]  # article id -> span per paragraph (None: not found)
    keys: dict[str, str] = field(default_factory=dict)  # briefbot report id -> article id
    unlocated: int = 0

    @classmethod
    def from_raw(cls, arts: Sequence[Article]) -> Gold:
        """Spans in ``raw_text`` (the baselines' text)."""
        spans: dict[str, list[tuple[int, int] | None]] = {}
        for a in arts:
            pos, out = 0, list[tuple[int, int] | None]()
            for p in a.paragraphs:
                out.append((pos, pos + len(p)))
                pos += len(p) + 2
            spans[a.id] = out
        return cls(spans)

    @classmethod
    def from_briefbot(cls, service: Any, keys: dict[str, str] | None = None) -> Gold:
        """Spans in briefbot's canonical texts; articles are matched to reports by title if not given."""
        by_id = {a.id: a for a in articles()}
        if keys is None:
            by_title = {a.title: a.id for a in articles()}
            catalog = service.store.snapshot()
            keys = {rid: by_title[catalog.reports[rid].title] for rid in catalog.visible
                    if catalog.reports[rid].title in by_title}
        spans: dict[str, list[tuple[int, int] | None]] = {}
        unlocated = 0
        for rid, aid in keys.items():
            canonical = service.store.canonical_text(rid) or ""
            spans[aid] = locate_paragraphs(canonical, by_id[aid].paragraphs)
            unlocated += sum(s is None for s in spans[aid])
        return cls(spans, dict(keys), unlocated)


def locate_paragraphs(canonical: str, paragraphs: Sequence[str]) -> list[tuple[int, int] | None]:
    """Each paragraph's ``[start, end)`` in a canonical text, found in order after normalising it
    the way the loader does (so a paragraph it cleaned or split is still found)."""
    from index import normalize

    out: list[tuple[int, int] | None] = []
    cursor = 0
    for p in paragraphs:
        pieces = normalize.paragraphs(p, markdown=True)
        if not pieces:
            out.append(None)
            continue
        s = canonical.find(pieces[0], cursor)
        if s < 0:
            s = canonical.find(pieces[0])
        if s < 0:
            out.append(None)
            continue
        e_start = canonical.find(pieces[-1], s)
        e = (e_start + len(pieces[-1])) if e_start >= 0 else s + len(pieces[0])
        out.append((s, e))
        cursor = e
    return out


def score(q: Question, result: Result, gold: Gold, k: int = K) -> tuple[Ranked, bool]:
    """The rank of the first hit and the quote hit; also whether the first quote lies in a hit."""
    answers = [a.casefold() for a in q.answers]
    spans = gold.spans.get(q.article)
    span = spans[q.paragraph] if spans and q.paragraph < len(spans) else None
    rank = 0
    for n, h in enumerate(result.hits[:k], 1):
        if span and h.doc == q.article and h.start < span[1] and span[0] < h.end \
                and any(a in h.text.casefold() for a in answers):
            rank = n
            break
    first = result.hits[0] if result.hits else None
    quote_hit = bool(result.answered and first and any(a in first.quote.casefold() for a in answers))
    return Ranked(q.id, rank if result.answered else 0, quote_hit, not result.answered), quote_hit and rank == 1


def as_system(target: Any, gold: Gold | None) -> tuple[Any, Gold]:
    """A briefbot service, a bench system, or a callable ``question -> Answer`` as a system + gold."""
    from index import Briefbot

    if isinstance(target, Briefbot):
        gold = gold or Gold.from_briefbot(target)
        return BriefbotSystem(target, gold.keys), gold
    if hasattr(target, "ask") and gold is not None:
        return target, gold
    if callable(target):
        if gold is None:
            raise ValueError("pass gold=Gold.from_briefbot(service) with a callable")
        keys = gold.keys

        class _Wrapped:
            name = getattr(target, "__name__", "callable")

            def ask(self, question: str, k: int = K) -> Result:
                return BriefbotSystem(_Service(target), keys).ask(question, k)

        return _Wrapped(), gold
    raise TypeError(f"cannot evaluate {type(target).__name__}")


@dataclass
class _Service:
    fn: Callable[..., Any]

    def ask(self, question: str, k: int = K) -> Any:
        try:
            return self.fn(question, k=k)
        except TypeError:
            return self.fn(question)


def evaluate(target: Any, qs: Sequence[Question], *, k: int = K, gold: Gold | None = None,
             rows: bool = False) -> dict[str, Any]:
    """Score ``target`` on ``qs``: hit@1..k, MRR@k, quote hit@1 and false refusals over questions whose
    article is in the store; refusal rate over those whose article is not (the held-out ones).

    ``target``: a ``Briefbot`` with the SQuAD articles ingested (gold spans are found from its
    catalog), a bench system with ``gold``, or a callable ``question[, k] -> Answer`` with ``gold``.
    """
    system, gold = as_system(target, gold)
    present, absent, strict = [], [], 0
    latencies = []
    for q in qs:
        t0 = time.perf_counter()
        result = system.ask(q.question, k)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked, in_hit = score(q, result, gold, k)
        if q.article in gold.spans:
            present.append(ranked)
            strict += in_hit
        else:
            absent.append(ranked)
    out: dict[str, Any] = {"system": getattr(system, "name", "?")}
    if present:
        m = ranked_metrics(present, k)
        out["false_refusal"] = m.pop("refused")
        out.update(m)
        out["quote_hit1_in_hit"] = strict / len(present)
    out["heldout_n"] = len(absent)
    out["heldout_refused"] = sum(r.refused for r in absent) / len(absent) if absent else None
    out["unlocated_paragraphs"] = gold.unlocated
    out["ms_mean"] = sum(latencies) / len(latencies) if latencies else None
    if rows:
        out["rows"] = present + absent
    return out
