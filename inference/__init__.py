"""Inference: LLM backends (vllm, extractive), prompt builder, citation parser and
verifier. Framework-free: never imports Django or citewise."""
