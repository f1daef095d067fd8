"""The keyword side of hybrid search: a bm25s index derived from the chunk texts Chroma stores.

Chroma's own sparse index only runs in Chroma Cloud, so this index is ours. It is a pure function
of the store at one generation: any process can rebuild it, and a disk cache keyed by that
generation only makes the rebuild skippable.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from array import array
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"\w+")
# bm25s ships Lucene's 33 English stop words; questions also lean on question words, auxiliaries
# and pronouns, which would otherwise count as rare, highly weighted terms in small stores.
_STOP = frozenset(bm25s.stopwords.STOPWORDS_EN) | frozenset(
    "what which who whom whose when where why how did does do doing done has have had having am been being "
    "can could would should will shall might must about any many much some more most also than so just very "
    "i me my we our us you your he him his she her its they them their this these those here there all both "
    "each few other such only own same too into over under again further then once say said says tell told "
    "know known".split()
)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-worded, Snowball-stemmed word tokens."""
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in _STOP and len(w) < 40]


@lru_cache(maxsize=8192)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of a text; cached, as the same chunks come back question after question."""
    return frozenset(_stem(w) for w in set(_TOKEN.findall(text.lower())) if w not in _STOP and len(w) < 40)


class KeywordIndex:
    """BM25 over chunks; ``scores`` returns one score per chunk id in ``ids`` order."""

    def __init__(self, ids: list[str], report_ids: list[str], bm25: bm25s.BM25 | None, doc_freq: dict[str, int]):
        self.ids = ids
        self.report_ids = list(report_ids)
        # Each chunk's report as a small integer, so a set of reports becomes a chunk mask in O(chunks).
        self._reports = {rid: n for n, rid in enumerate(dict.fromkeys(report_ids))}
        self._report_of = np.fromiter((self._reports[r] for r in report_ids), dtype=np.int32, count=len(report_ids))
        self.position = {cid: n for n, cid in enumerate(ids)}
        self._bm25 = bm25
        self._df = doc_freq

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, str]]) -> KeywordIndex:
        """Index ``(chunk id, report id, text)`` rows."""
        ids, rids = [], []
        # Each chunk's tokens as vocabulary ids in a 4-byte array, handed to bm25s with the
        # vocabulary: a third of the memory of lists of token strings (~270 MB less at 100k chunks).
        corpus: list[array[int]] = []
        vocab: dict[str, int] = {}
        df: dict[str, int] = {}
        for cid, rid, text in rows:
            tokens = tokenize(text)
            ids.append(cid)
            rids.append(rid)
            corpus.append(array("I", [vocab.setdefault(t, len(vocab)) for t in tokens]))
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        bm25 = None
        if vocab:
            bm25 = bm25s.BM25()
            bm25.index((corpus, vocab), show_progress=False)
        return cls(ids, rids, bm25, df)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query tokens."""
        if self._bm25 is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def in_reports(self, report_ids: AbstractSet[str]) -> np.ndarray:
        """A boolean mask over chunks: True where the chunk's report is in ``report_ids``."""
        wanted = np.zeros(len(self._reports), dtype=bool)
        wanted[[n for rid, n in self._reports.items() if rid in report_ids]] = True
        return wanted[self._report_of]

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token over chunks (BM25's smoothed form)."""
        n = len(self.ids)
        df = self._df.get(token, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    # --- cache -----------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index so a restart at the same generation skips the rebuild."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps({"ids": self.ids, "rids": self.report_ids, "df": self._df}))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex | None:
        """A saved index, or None when absent or unreadable (then the caller rebuilds)."""
        try:
            meta = json.loads((directory / "meta.json").read_text())
            bm25 = None
            if meta["ids"]:
                bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False, verbosity=0)
            return cls(meta["ids"], meta["rids"], bm25, meta["df"])
        except (OSError, ValueError, KeyError) as exc:
            log.info("keyword cache at %s unusable (%s); rebuilding", directory, type(exc).__name__)
            return None


class Terms:
    """A question's distinct terms and their IDF weights, computed once for the many texts it is matched against."""

    def __init__(self, question_tokens: Sequence[str], keyword: KeywordIndex) -> None:
        self.weights = {t: keyword.idf(t) for t in set(question_tokens)}
        self.total = sum(self.weights.values())

    def coverage(self, text: str) -> float:
        """Share of the question's IDF mass whose terms occur in ``text`` (0..1)."""
        if not self.total:
            return 0.0
        present = token_set(text)
        return sum(w for t, w in self.weights.items() if t in present) / self.total

