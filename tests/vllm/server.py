"""Start and stop a real vLLM OpenAI-compatible server (CPU build) for tests, following
../shared/notes/vllm-on-cpu.md. The vLLM environment lives apart from the project's
(CITEWISE_VLLM_VENV, default .vllm-venv; create it with tests/vllm/setup_vllm.sh)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "citewise-tiny"
READY_TIMEOUT_S = 180
MAX_MODEL_LEN = 512


def vllm_venv() -> Path:
    return Path(os.environ.get("CITEWISE_VLLM_VENV") or ROOT / ".vllm-venv")


def vllm_python() -> Path:
    return vllm_venv() / "bin" / "python"


def vllm_missing_reason() -> str | None:
    venv = vllm_venv()
    if not (venv / ".citewise-vllm-ready").exists() or not vllm_python().exists():
        return (f"no vLLM environment at {venv} (set CITEWISE_VLLM_VENV or run "
                "tests/vllm/setup_vllm.sh, ~3 min): real-vLLM tests skipped")
    return None


def model_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("CITEWISE_VLLM_MODEL_DIR")
                or default / "citewise" / "vllm-tiny-llama")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VLLMServer:
    root: str  # http://127.0.0.1:PORT
    model: str
    process: subprocess.Popen
    log_path: Path
    ready_s: float

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def build_model() -> Path:
    out = model_dir()
    subprocess.run([str(vllm_python()), str(Path(__file__).with_name("build_tiny_model.py")),
                    str(out)], check=True, capture_output=True, timeout=600,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return out


def start_server(workdir: Path) -> VLLMServer:
    model = build_model()
    port = free_port()
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1", "VLLM_HOST_IP": "127.0.0.1", "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "VLLM_CACHE_ROOT": str(cache / "vllm"),
        "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
        "HF_HOME": str(cache / "hf"),
    }
    env.pop("VIRTUAL_ENV", None)
    log_path = workdir / "vllm.log"
    command = [str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
               "--model", str(model), "--served-model-name", MODEL_NAME,
               "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
               "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager"]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=workdir, start_new_session=True)
    server = VLLMServer(f"http://127.0.0.1:{port}", MODEL_NAME, process, log_path, 0.0)
    deadline = started + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vLLM exited with code {process.returncode}:\n"
                               f"{server.log_tail()}")
        try:
            if httpx.get(server.root + "/health", timeout=2).status_code == 200:
                server.ready_s = time.monotonic() - started
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"vLLM did not answer /health within {READY_TIMEOUT_S} s:\n"
                       f"{server.log_tail()}")


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="citewise-vllm-"))
