"""The 100k-chunk store of the latency and memory figures: the ISW store plus noisy copies of its
reports (``python -m bench.worker build100k``)."""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import defaultdict
from typing import Any

import numpy as np


def _all(col: Any, include: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    offset = 0
    while True:
        got = col.get(include=include, limit=5000, offset=offset)
        if not got["ids"]:
            return out
        out["ids"] += got["ids"]
        for key in include:
            out[key] += list(got[key])
        offset += len(got["ids"])


def _noisy(vecs: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    v = vecs + rng.normal(0.0, sigma, vecs.shape).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True))


def cmd_build100k(a: argparse.Namespace) -> dict[str, Any]:
    """Copy the ISW store and add noisy copies of its reports until it holds ``target`` chunks.

    Writes briefbot's record layout directly (index/store.py): chunk vectors (with their sentence
    vectors in metadata) per report, then one catalog write of report, text and source records and a new generation, which is
    what ``Store.commit`` does per report. The LangChain collection gets the same treatment.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from index.store import EF_SEARCH, SENTENCE_VECTORS, Store, pack_vectors, source_id, unpack_vectors

    cs = ChromaSettings(anonymized_telemetry=False)
    # Chroma's typed results are unions of every include; this copies raw records, so it reads them as Any.
    src: Any = chromadb.PersistentClient(path=a.src, settings=cs)
    dst: Any = chromadb.PersistentClient(path=a.dst, settings=cs)
    rng = np.random.default_rng(a.seed)
    p = a.prefix
    t0 = time.perf_counter()
    chunks = _all(src.get_collection(f"{p}_chunks"), ["embeddings", "documents", "metadatas"])
    src_store = Store(src, p)
    cat = src.get_collection(f"{p}_catalog").get(where={"kind": "report"}, include=["metadatas"])
    cat["documents"] = [src_store.canonical_text(m["report_id"]) for m in cat["metadatas"]]
    lc = _all(src.get_collection("langchain"), ["embeddings", "documents", "metadatas"])

    by_report_c: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(chunks["metadatas"]):
        by_report_c[m["report_id"]].append(i)
    cvec = np.asarray(chunks["embeddings"], dtype=np.float32)
    dim = cvec.shape[1]

    hnsw = {"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}
    d_chunks = dst.get_or_create_collection(f"{p}_chunks", configuration=hnsw, embedding_function=None)
    d_cat = dst.get_or_create_collection(f"{p}_catalog", embedding_function=None)

    buf_c: dict[str, list[Any]] = defaultdict(list)

    def flush(force: bool = False) -> None:
        if buf_c["ids"] and (force or len(buf_c["ids"]) >= 5000):
            d_chunks.add(ids=buf_c["ids"], embeddings=np.vstack(buf_c["emb"]), documents=buf_c["docs"],
                         metadatas=buf_c["meta"])
            buf_c.clear()

    catalog_rows: list[tuple[str, dict[str, Any], str]] = []
    total, copy, n_sentences = 0, 0, 0
    reports = [(m, d) for m, d in zip(cat["metadatas"], cat["documents"], strict=True)]
    while total < a.target:
        for meta, text in reports:
            rid = meta["report_id"]
            new = rid if copy == 0 else hashlib.sha256(f"{rid}:{copy}".encode()).hexdigest()[:16]
            ci = by_report_c[rid]
            cv = cvec[ci] if copy == 0 else _noisy(cvec[ci], rng, a.sigma)
            for j, i in enumerate(ci):
                m = dict(chunks["metadatas"][i], report_id=new)
                if copy:  # each copy's sentence vectors get the same noise as its chunk vectors
                    m[SENTENCE_VECTORS] = pack_vectors(_noisy(unpack_vectors(m[SENTENCE_VECTORS], dim), rng, a.sigma))
                n_sentences += int(m["n_sent"])
                buf_c["ids"].append(f"{new}:{m['seq']}")
                buf_c["docs"].append(chunks["documents"][i])
                buf_c["meta"].append(m)
                buf_c["emb"].append(cv[j:j + 1])
            catalog_rows.append((new, dict(meta, report_id=new), text))
            total += len(ci)
            flush()
            if total >= a.target:
                break
        copy += 1
    flush(force=True)
    # The commit: report and source records, then the generation that makes them visible.
    for i in range(0, len(catalog_rows), 1500):
        batch = catalog_rows[i:i + 1500]
        ids, metas, docs = [], [], []
        for rid, meta, text in batch:
            key = f"bench://copy/{rid}"
            ids += [f"report:{rid}", f"text:{rid}", source_id(key)]
            metas += [dict(meta, kind="report"), {"kind": "text", "report_id": rid},
                      {"kind": "source", "key": key, "report_id": rid, "raw_sha": rid}]
            docs += ["", text, ""]
        d_cat.upsert(ids=ids, embeddings=[[1.0]] * len(ids), metadatas=metas, documents=docs)
    d_cat.upsert(ids=["meta:generation"], embeddings=[[1.0]], metadatas=[{"kind": "meta", "value": os.urandom(16).hex()}],
                 documents=[""])

    # Plain LangChain's collection, created as langchain_chroma creates it, filled the same way.
    from langchain_chroma import Chroma

    lc_col: Any = Chroma(collection_name="langchain", client=dst)._collection
    lvec = np.asarray(lc["embeddings"], dtype=np.float32)
    n_lc, copy = 0, 0
    while n_lc < a.target:
        take = min(len(lvec), a.target - n_lc)
        vecs = lvec[:take] if copy == 0 else _noisy(lvec[:take], rng, a.sigma)
        for i in range(0, take, 5000):
            j = min(i + 5000, take)
            lc_col.add(ids=[f"c{copy}:{lc['ids'][x]}" for x in range(i, j)], embeddings=vecs[i:j],
                       documents=lc["documents"][i:j], metadatas=lc["metadatas"][i:j])
        n_lc += take
        copy += 1
    return {"chunks": d_chunks.count(), "sentences": n_sentences, "reports": len(catalog_rows),
            "lc_chunks": lc_col.count(), "build_s": time.perf_counter() - t0, "sigma": a.sigma}
