"""Partially quantised all-MiniLM-L6-v2 graphs: some MatMuls int8, the rest fp32. Speed and
agreement with the fp32 graph (the "onnx" backend) on real passages.

    .venv/bin/python benchmarks/partial_int8.py [--corpus /tmp/debian-docs-corpus/en]
        [--passages 256] [--repeat 2] [--variants full qkv ...] [--sensitivity]

Variants are built from the cached fp32 export (retrieval.embedder.export_onnx) into a
temporary folder with onnxruntime's quantize_dynamic (per-channel int8 weights, dynamic
per-tensor uint8 activations, MatMuls with a constant weight only), as the onnx-int8
backend does, restricted by nodes_to_quantize. "fused-*" variants first run
onnxruntime.transformers' BERT optimizer (Attention, EmbedLayerNormalization,
SkipLayerNormalization and BiasGelu fusions) on the fp32 graph. Each runs through
OnnxEmbedder (2 intra-op threads here, batches of 32); variants take turns pass after pass,
best pass reported, with the process's CPU time too (wall time on a shared machine
measures the queue for a core). Passages: benchmarks/ingestion_embedding.py's corpus_chunks
and spread. --sensitivity also quantises each of the 36 weight MatMuls alone and prints
the cosine it costs (half the passages).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingestion_embedding import corpus_chunks, spread
from retrieval import embedder as emb

LAYERS = range(6)
KINDS = {"q": "attention/self/query", "k": "attention/self/key",
         "v": "attention/self/value", "ao": "attention/output/dense",
         "fi": "intermediate/dense", "fo": "output/dense"}


def node(layer: int, kind: str) -> str:
    return f"/transformer/encoder/layer.{layer}/{KINDS[kind]}/MatMul"


def nodes(layers: range | list[int] = LAYERS, kinds: list[str] | None = None) -> list[str]:
    return [node(layer, kind) for layer in layers for kind in (kinds or list(KINDS))]


# Cheapest cosine per FLOP first, by --sensitivity on the Debian passages: every query
# projection, layer 5's FFN, most attention projections and K, late FFN outputs, two FFN
# inputs (40 of 72 FLOP units; q/k/v/ao are 1 unit each, FFN matrices 4).
GREEDY40 = [node(layer, "q") for layer in LAYERS] + [
    node(5, "fi"), node(5, "fo"), node(1, "ao"), node(0, "k"), node(0, "v"), node(4, "k"),
    node(3, "ao"), node(4, "ao"), node(2, "ao"), node(5, "k"), node(4, "fo"), node(3, "fo"),
    node(5, "ao"), node(3, "k"), node(4, "fi"), node(0, "fi")]
DYNAMIC: dict[str, list[str]] = {
    "full": nodes(), "ffn": nodes(kinds=["fi", "fo"]), "fi": nodes(kinds=["fi"]),
    "fo": nodes(kinds=["fo"]), "qkv": nodes(kinds=["q", "k", "v"]),
    "attn4": nodes(kinds=["q", "k", "v", "ao"]), "no-last": nodes(range(5)),
    "no-first-last": nodes(range(1, 5)), "greedy40": GREEDY40,
    "late3-q": nodes(range(3, 6)) + [node(layer, "q") for layer in range(3)],
}
FUSED: dict[str, list[str] | None] = {  # None: fp32; "Attention" stands for its 6 nodes
    "fused-fp32": None, "fused-attn": ["Attention"],
    "fused-attn-ao": ["Attention", *nodes(range(1, 6), ["ao"])],
    "fused-attn-ao-ffn5": ["Attention", *nodes(range(1, 6), ["ao"]), node(5, "fi"),
                           node(5, "fo"), node(4, "fo")],
    "fused-full": ["Attention", *nodes(kinds=["ao", "fi", "fo"])],
}


def quantize(src: Path, out: Path, names: list[str], *, reduce_range: bool = False) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    wanted = [n.name for n in graph.node
              if n.name in names or (n.op_type == "Attention" and "Attention" in names)]
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_quantize=wanted,
                         reduce_range=reduce_range,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)
    return out


def fuse(src: Path, out: Path) -> Path:
    from onnxruntime.transformers import optimizer

    logging.disable(logging.WARNING)
    try:
        model = optimizer.optimize_model(str(src), model_type="bert", num_heads=12,
                                         hidden_size=384, opt_level=1)
        model.save_model_to_file(str(out))
    finally:
        logging.disable(logging.NOTSET)
    return out


def builders(fp32: Path, work: Path) -> dict[str, Callable[[], Path]]:
    fused = work / "fused-fp32.onnx"

    def fused_graph() -> Path:
        return fused if fused.is_file() else fuse(fp32, fused)

    out: dict[str, Callable[[], Path]] = {"fp32": lambda: fp32}
    for name, names in DYNAMIC.items():
        out[name] = lambda n=name, ns=names: quantize(fp32, work / f"{n}.onnx", ns)
    out["full-reduce-range"] = lambda: quantize(fp32, work / "full-rr.onnx", nodes(),
                                                reduce_range=True)
    for name, fused_names in FUSED.items():
        out[name] = (fused_graph if fused_names is None else
                     lambda n=name, ns=fused_names: quantize(fused_graph(), work / f"{n}.onnx", ns))
    return out


def load(graph: Path) -> emb.OnnxEmbedder:
    """OnnxEmbedder's session options and pooling, on `graph`."""
    real = emb.export_onnx
    emb.export_onnx = lambda *_args, **_kwargs: graph  # type: ignore[assignment]
    try:
        return emb.OnnxEmbedder(emb.EmbedderConfig(backend="onnx", batch_size=32), "onnx")
    finally:
        emb.export_onnx = real  # type: ignore[assignment]


def embed(embedder: emb.OnnxEmbedder, texts: list[str], batch: int = 32) -> np.ndarray:
    return np.vstack([embedder.embed_passages(texts[i:i + batch])
                      for i in range(0, len(texts), batch)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path,
                        default=Path(tempfile.gettempdir()) / "debian-docs-corpus" / "en")
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", nargs="+")
    parser.add_argument("--sensitivity", action="store_true")
    args = parser.parse_args()
    texts = spread(corpus_chunks(args.corpus), args.passages)
    folder = emb._model_folder(emb.EmbedderConfig.model)
    assert folder is not None
    fp32 = emb.export_onnx(folder, emb.default_onnx_cache_dir(), quantize=False)
    work = Path(tempfile.mkdtemp(prefix="partial-int8-"))
    build = builders(fp32, work)
    names = ["fp32", *[n for n in (args.variants or build) if n != "fp32"]]
    embedders = {n: load(build[n]()) for n in names}
    for e in embedders.values():
        embed(e, texts[:32])  # warm-up
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeat):
        for n, e in embedders.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            vectors[n] = embed(e, texts)
            wall[n].append(time.perf_counter() - began)
            cpu[n].append(time.process_time() - began_cpu)
    print(f"{len(texts)} passages, best of {args.repeat}\n\n| variant | passages/s | speed-up"
          " (wall) | speed-up (CPU) | cosine vs fp32 mean / min |\n|---|---|---|---|---|")
    for n in names:
        cos = (vectors[n] * vectors["fp32"]).sum(axis=1)
        print(f"| {n} | {len(texts) / min(wall[n]):.1f} | {min(wall['fp32']) / min(wall[n]):.2f}x"
              f" | {min(cpu['fp32']) / min(cpu[n]):.2f}x | {cos.mean():.4f} / {cos.min():.4f} |",
              flush=True)
    if args.sensitivity:
        half = texts[::2]
        reference = embed(embedders["fp32"], half)
        for name in nodes():
            graph = quantize(fp32, work / "one.onnx", [name])
            cos = (embed(load(graph), half) * reference).sum(axis=1)
            print(json.dumps({"int8": name, "cos_mean": round(float(cos.mean()), 5),
                              "cos_min": round(float(cos.min()), 5)}), flush=True)


if __name__ == "__main__":
    main()
