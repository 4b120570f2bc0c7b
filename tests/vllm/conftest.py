"""A real vLLM server for the whole session (started once: it takes ~30 s)."""

from __future__ import annotations

import shutil

import pytest

from tests.vllm.server import VLLMServer, new_workdir, start_server, vllm_missing_reason


@pytest.fixture(scope="session")
def vllm_server() -> VLLMServer:
    reason = vllm_missing_reason()
    if reason:
        pytest.skip(reason)
    workdir = new_workdir()
    server = start_server(workdir)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)
