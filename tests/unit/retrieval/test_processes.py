"""Behaviour across processes: a Celery worker writes, web processes read."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from retrieval.errors import LockTimeout
from retrieval.locking import KbLock
from retrieval.vector_store import VectorStore
from tests.helpers import REPO_ROOT, clean_env
from tests.unit.retrieval.conftest import unit_vectors

MODEL = "test-model"


def spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=clean_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_another_process_holding_the_lock_excludes_writers_until_it_releases(tmp_path):
    holder = spawn(
        "import sys\nfrom retrieval.locking import KbLock\n"
        f"with KbLock({str(tmp_path)!r}, 'kb'):\n"
        "    print('locked', flush=True)\n    sys.stdin.read()\n"
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockTimeout):
            KbLock(tmp_path, "kb", timeout=0.3).acquire()
        # Another knowledge base is not blocked.
        with KbLock(tmp_path, "other", timeout=0.3):
            pass
        holder.stdin.close()
        holder.wait(timeout=30)
        with KbLock(tmp_path, "kb", timeout=5):
            pass
    finally:
        holder.kill()


def test_a_crashed_lock_holder_does_not_leave_the_knowledge_base_locked(tmp_path):
    holder = spawn(
        "import time\nfrom retrieval.locking import KbLock\n"
        f"KbLock({str(tmp_path)!r}, 'kb').acquire()\nprint('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=30)
    with KbLock(tmp_path, "kb", timeout=5):
        pass


def test_the_lock_lives_outside_the_index_folder(tmp_path):
    with KbLock(tmp_path, "kb") as lock:
        assert lock.path.parent == (tmp_path / ".locks").resolve()


def test_a_reader_process_picks_up_new_versions_and_never_sees_a_partial_file(tmp_path):
    """A writer process saves 25 versions while this process searches continuously: every
    search succeeds, and the reader ends on the writer's last version without restarting."""
    vectors = unit_vectors(200, dim=32)
    store = VectorStore(tmp_path)
    store.rebuild("kb", np.arange(200), vectors, MODEL)
    writer = spawn(
        "import numpy as np\nfrom retrieval.vector_store import VectorStore\n"
        f"store = VectorStore({str(tmp_path)!r})\n"
        "rng = np.random.default_rng(1)\n"
        "for step in range(25):\n"
        "    v = rng.standard_normal((50, 32)).astype('float32')\n"
        "    v /= np.linalg.norm(v, axis=1, keepdims=True)\n"
        "    ids = np.arange(1000 + step * 50, 1050 + step * 50)\n"
        f"    store.upsert('kb', ids, v, model={MODEL!r})\n"
        "print('done', flush=True)\n"
    )
    seen_counts = []
    try:
        while writer.poll() is None:
            ids, _ = store.search("kb", vectors[3], 5, model=MODEL)
            assert ids[0] == 3
            seen_counts.append(store.manifest("kb")["count"])
            time.sleep(0.005)
        assert writer.returncode == 0, writer.stderr.read()
    finally:
        writer.kill()
    assert seen_counts == sorted(seen_counts)  # versions only move forward
    assert store.manifest("kb")["count"] == 200 + 25 * 50
    new_id = store.search("kb", store_vector(tmp_path, 1000 + 24 * 50), 1, model=MODEL)[0][0]
    assert new_id == 1000 + 24 * 50


def store_vector(root, chunk_id: int) -> np.ndarray:
    """Read one stored vector back through a separate store (as another reader would)."""
    from retrieval import faiss_index

    store = VectorStore(root)
    manifest = store.manifest("kb")
    index = store._read_index("kb", manifest)
    ids, vectors = faiss_index.contents(index)
    return vectors[list(ids).index(chunk_id)]
