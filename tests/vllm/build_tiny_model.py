"""Builds a tiny random-weight Llama model with a locally trained tokenizer and a chat
template, for serving with the real vLLM CPU build in tests (no network).

Run with the vLLM environment's Python (it has torch, transformers and tokenizers):
    $CITEWISE_VLLM_VENV/bin/python tests/vllm/build_tiny_model.py OUT_DIR
Idempotent: an existing complete model folder is left alone. Recipe:
../shared/notes/vllm-on-cpu.md. The text it writes is gibberish; the protocol is real.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

VERSION = "citewise-tiny-llama-1"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>"]


def training_files() -> list[str]:
    """Local text: this repository's docs and Python sources, plus the standard library's
    email package (always present), sorted for a deterministic tokenizer."""
    import email

    root = Path(__file__).resolve().parents[2]
    files = sorted(str(p) for pattern in ("docs/**/*.md", "inference/**/*.py", "*.md")
                   for p in root.glob(pattern))
    files += sorted(str(p) for p in Path(email.__file__).parent.glob("*.py"))
    return files


def build(out: Path) -> Path:
    stamp = out / "citewise-build.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("version") == VERSION:
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4096, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train(training_files(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>",
                                   bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["chat_template"] = CHAT_TEMPLATE
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False))

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id, tie_word_embeddings=False, torch_dtype="float32",
    ))
    model.save_pretrained(out, safe_serialization=True)
    stamp.write_text(json.dumps({"version": VERSION}))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
