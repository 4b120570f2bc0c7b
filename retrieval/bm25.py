"""BM25 over a sparse term-frequency matrix that supports deletes and upserts by id.

Libraries such as bm25s precompute a frozen index and cannot remove one document, and a
knowledge base changes one document at a time; so the term frequencies are kept in a
scipy CSR matrix (one row per chunk) and the BM25 weights are derived from it lazily.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

K1 = 1.2
B = 0.75
# A query term no chunk uses, of at least this many letters, is taken for a typo of a term
# one edit away (insert, delete, substitute, or swap two neighbours): the same rule as
# the answer step's inference/spelling.py, so shorter real words are never rewritten.
TYPO_MIN_LETTERS = 5
TYPO_MAX_EDITS = 1


@dataclass
class Bm25Matrix:
    ids: np.ndarray  # int64 chunk id of each row
    tf: Any  # scipy.sparse.csr_matrix (rows, len(terms)) of float32 term counts
    terms: list[str]
    vocab: dict[str, int] = field(default_factory=dict)
    _weights: Any = None  # CSC matrix of BM25 term weights, built on first search
    _idf_values: Any = None  # idf per term column, built on first use
    _df_values: Any = None  # chunk count per term column, built on first use

    def __post_init__(self) -> None:
        if not self.vocab:
            self.vocab = {term: i for i, term in enumerate(self.terms)}

    @classmethod
    def empty(cls) -> Bm25Matrix:
        from scipy import sparse

        return cls(np.zeros(0, dtype=np.int64), sparse.csr_matrix((0, 0), dtype=np.float32),
                   [])

    def __len__(self) -> int:
        return len(self.ids)

    def remove(self, ids: Iterable[int]) -> None:
        keep = ~np.isin(self.ids, np.asarray(list(ids), dtype=np.int64))
        self.ids, self.tf = self.ids[keep], self.tf[keep]
        self._forget_derived()

    def add(self, ids: np.ndarray, token_lists: list[list[str]]) -> None:
        from scipy import sparse

        rows, cols, counts = [], [], []
        for row, tokens in enumerate(token_lists):
            for term, count in Counter(tokens).items():
                col = self.vocab.get(term)
                if col is None:
                    col = self.vocab[term] = len(self.terms)
                    self.terms.append(term)
                rows.append(row)
                cols.append(col)
                counts.append(count)
        width = len(self.terms)
        new = sparse.csr_matrix((np.asarray(counts, dtype=np.float32), (rows, cols)),
                                shape=(len(token_lists), width))
        old = self.tf
        old.resize((old.shape[0], width))
        self.tf = sparse.vstack([old, new], format="csr", dtype=np.float32)
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self._forget_derived()

    def _forget_derived(self) -> None:
        """The idf and the BM25 weights follow the matrix; rebuilt on next use."""
        self._weights = self._idf_values = self._df_values = None

    def search(self, query_tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        cols = sorted({self.vocab[t] for t in query_tokens if t in self.vocab})
        if not cols or not len(self.ids) or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.asarray(self._weight_matrix()[:, cols].sum(axis=1)).ravel()
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return self.ids[hits], scores[hits].astype(np.float32)

    def spelled_as_indexed(self, query_tokens: list[str]) -> list[str]:
        """The query's terms, each Latin-script term that no chunk uses replaced by the
        most used term one edit away ("pakage" -> "package", "polciy" -> "policy"), if
        any. A misspelled word otherwise matches nothing, and the question loses its
        rarest, most telling term. Hangul terms stay: kiwi splits a misspelled Korean
        word into other morphemes, not into one unknown term."""
        df = self._df()
        known = {t for t in query_tokens if t in self.vocab and df[self.vocab[t]] > 0}
        fixed = {t: self._nearest_term(t, df) for t in set(query_tokens) - known
                 if len(t) >= TYPO_MIN_LETTERS and t.isascii() and t.isalpha()}
        return [fixed.get(t) or t for t in query_tokens]

    def _nearest_term(self, term: str, df: np.ndarray) -> str | None:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        matches = process.extract(term, self.terms, scorer=OSA.distance,
                                  score_cutoff=TYPO_MAX_EDITS, limit=None)
        used = [(int(df[index]), str(found)) for found, _, index in matches if df[index] > 0]
        return max(used)[1] if used else None

    def term_coverage(self, query_tokens: list[str], ids: Iterable[int]) -> dict[int, float]:
        """For each chunk id: the share of the query's distinct terms it contains, each
        term weighted by its idf in this knowledge base. A term the knowledge base never
        uses weighs most, so a question about something the documents do not mention
        scores low even when its common words ("Python", "회사") are everywhere. An unseen
        term weighs like a term of one chunk: in a small knowledge base the textbook idf of
        an unseen term would outweigh everything the passage does contain. A term still in
        the vocabulary whose chunks were all removed is unseen too."""
        terms = list(dict.fromkeys(query_tokens))
        rows = np.flatnonzero(np.isin(self.ids, np.fromiter(ids, dtype=np.int64)))
        if not terms or not len(rows):
            return {}
        idf = self._idf()
        unseen = float(np.log1p((len(self.ids) - 1 + 0.5) / 1.5))
        cols = [self.vocab.get(t) for t in terms]
        # idf falls as df rises, so the cap changes only terms of no chunk (df 0).
        weights = np.array([unseen if c is None else min(float(idf[c]), unseen) for c in cols])
        known = [i for i, c in enumerate(cols) if c is not None]
        present = np.zeros((len(rows), len(terms)), dtype=bool)
        if known:
            present[:, known] = self.tf[rows][:, [cols[i] for i in known]].toarray() > 0
        shares = present @ weights / (float(weights.sum()) or 1.0)
        return {int(self.ids[row]): float(share) for row, share in zip(rows, shares, strict=True)}

    def _df(self) -> np.ndarray:
        """How many chunks use each term column."""
        if self._df_values is None:
            self._df_values = np.bincount(self.tf.tocoo().col, minlength=self.tf.shape[1])
        return self._df_values

    def _idf(self) -> np.ndarray:
        if self._idf_values is None:
            n = len(self.ids)
            df = self._df()
            self._idf_values = np.log1p((n - df + 0.5) / (df + 0.5))  # Lucene's, non-negative
        return self._idf_values

    def _weight_matrix(self) -> Any:
        if self._weights is None:
            tf = self.tf.tocoo()
            n = len(self.ids)
            lengths = np.asarray(self.tf.sum(axis=1)).ravel()
            avg = float(lengths.mean()) if n else 1.0
            idf = self._idf()
            norm = K1 * (1 - B + B * lengths[tf.row] / max(avg, 1e-9))
            data = idf[tf.col] * tf.data * (K1 + 1) / (tf.data + norm)
            from scipy import sparse

            self._weights = sparse.csc_matrix((data.astype(np.float32), (tf.row, tf.col)),
                                              shape=self.tf.shape)
        return self._weights

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        tf = self.tf.tocsr()
        np.savez(buffer, ids=self.ids, indptr=tf.indptr, indices=tf.indices, data=tf.data,
                 terms=np.asarray(self.terms, dtype=str), width=np.asarray([tf.shape[1]]))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Bm25Matrix:
        from scipy import sparse

        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            ids = arrays["ids"]
            width = int(arrays["width"][0])
            tf = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                   shape=(len(ids), width))
            terms = arrays["terms"].tolist()
        if len(terms) != width:
            raise ValueError("vocabulary and matrix width disagree")
        return cls(ids, tf, terms)
