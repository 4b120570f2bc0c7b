"""Building, inspecting and (de)serialising FAISS indexes keyed by int64 chunk ids.

Two layouts, chosen by size:
- "flat": IndexIDMap2(IndexFlatIP): exact inner product (= cosine on normalised vectors).
- "ivf_flat": IndexIVFFlat with ids stored in its inverted lists. Approximate, but it
  supports remove_ids and adding without retraining, which HNSW does not (HNSW cannot
  delete, and IndexIDMap's remove_ids is only correct for indexes that renumber like
  IndexFlat). Vectors stay uncompressed, so recall is tuned only with nprobe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

FLAT = "flat"
IVF_FLAT = "ivf_flat"


@dataclass(frozen=True)
class IvfParams:
    nlist: int
    nprobe: int


def ivf_params(count: int, *, nprobe_ratio: float = 0.2, min_nprobe: int = 16) -> IvfParams:
    # ~4*sqrt(n) lists keeps list scans and the coarse search balanced; probing a
    # fifth of the lists keeps recall@10 >= 0.95 on embedding-like (clustered) data
    # (see benchmarks/RESULTS.md).
    nlist = max(16, int(4 * math.sqrt(count)))
    return IvfParams(nlist=nlist, nprobe=min(nlist, max(min_nprobe, int(nlist * nprobe_ratio))))


def build(ids: np.ndarray, vectors: np.ndarray, *, index_type: str, dimension: int,
          ivf: IvfParams | None = None) -> Any:
    import faiss  # lazy: the web process must not load FAISS

    if index_type == FLAT:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    elif index_type == IVF_FLAT:
        assert ivf is not None
        # index_factory: the index owns its coarse quantizer (no dangling SWIG reference).
        index = faiss.index_factory(dimension, f"IVF{ivf.nlist},Flat",
                                    faiss.METRIC_INNER_PRODUCT)
        # k-means on a sample: 64 points per centroid is plenty and keeps a 1M rebuild short.
        rng = np.random.default_rng(0)
        sample_size = min(len(vectors), 64 * ivf.nlist)
        sample = vectors[rng.choice(len(vectors), sample_size, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = ivf.nprobe
    else:
        raise ValueError(f"unknown index type {index_type!r}")
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                           np.ascontiguousarray(ids, dtype=np.int64))
    return index


def search_one(index: Any, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids), each of shape (1, k), for one query vector of shape (1, d).

    On the calling thread only: FAISS parallelises over queries, so a second OpenMP thread
    has nothing to do for one query, yet the search waits for it at the region's barrier.
    On a busy machine that thread is often descheduled: with two threads a 300-vector
    search took 0.07 ms at the median and 27 ms at p95, with one 0.09 / 0.2 ms (2 cores,
    load 10). The thread count is the calling thread's (OpenMP keeps it per thread) and is
    put back, so indexing elsewhere keeps its threads."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(query, k)
    finally:
        faiss.omp_set_num_threads(threads)


def contents(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """All (ids, vectors) stored in an index, for conversion between layouts."""
    import faiss

    if isinstance(index, faiss.IndexIDMap2):
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else \
            np.zeros((0, index.d), dtype=np.float32)
        return ids, vectors
    ivf = faiss.extract_index_ivf(index)
    id_parts, vector_parts = [], []
    for list_no in range(ivf.nlist):
        size = ivf.invlists.list_size(list_no)
        if size == 0:
            continue
        id_parts.append(faiss.rev_swig_ptr(ivf.invlists.get_ids(list_no), size).copy())
        codes = faiss.rev_swig_ptr(ivf.invlists.get_codes(list_no), size * ivf.code_size)
        vector_parts.append(codes.copy().view(np.float32).reshape(size, ivf.d))
    if not id_parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, ivf.d), dtype=np.float32)
    return np.concatenate(id_parts).astype(np.int64), np.concatenate(vector_parts)


def stored_ids(index: Any) -> np.ndarray:
    import faiss

    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    return contents(index)[0]


def serialize(index: Any) -> bytes:
    import faiss

    return faiss.serialize_index(index).tobytes()


def deserialize(data: bytes, *, nprobe: int | None) -> Any:
    import faiss

    index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    if nprobe is not None:
        faiss.extract_index_ivf(index).nprobe = nprobe
    return index
