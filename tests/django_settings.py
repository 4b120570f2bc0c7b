"""Settings for the test suite: the product's settings, on a fresh data directory.

The environment is prepared before citewise.settings is imported, because settings are
read at import. Worker processes started by the tests inherit the same variables (and so
the same data directory). With DATABASE_URL / REDIS_URL set (CI sets them), the suite
runs on PostgreSQL and Redis; without them, on SQLite and the filesystem broker.
"""

import os
import tempfile

_data_dir = os.environ.get("CITEWISE_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="citewise-test-")
os.environ["CITEWISE_TEST_DATA_DIR"] = _data_dir
os.environ["CITEWISE_DATA_DIR"] = _data_dir
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("CITEWISE_ENV", "development")
# ONNX exports outlive the run's data directory: exporting loads torch (a minute here).
os.environ.setdefault("CITEWISE_ONNX_CACHE",
                      os.path.join(os.path.expanduser("~"), ".cache", "citewise", "onnx"))

# CITEWISE_TEST_VECTOR_STORE=milvus-lite runs the suite on Milvus: one Milvus Lite server
# (tests/milvus_server.py, standing in for Milvus standalone) for this process and the
# workers it starts, which inherit CITEWISE_VECTOR_STORE. CITEWISE_VECTOR_STORE=milvus:URI
# runs it on a Milvus server already running.
if (os.environ.get("CITEWISE_TEST_VECTOR_STORE") == "milvus-lite"
        and not os.environ.get("CITEWISE_VECTOR_STORE")):
    import atexit

    from tests.milvus_server import milvus_lite_server

    _milvus = milvus_lite_server(tempfile.mkdtemp(prefix="citewise-milvus-"))
    os.environ["CITEWISE_VECTOR_STORE"] = f"milvus:{_milvus.__enter__()}"
    atexit.register(_milvus.__exit__, None, None, None)

from citewise.settings import *  # noqa: E402, F403
from citewise.settings import DATA_DIR, DATABASES  # noqa: E402

# A worker process must see the test database, so SQLite's test database is a file
# (Django would otherwise use one in memory, private to the test process).
DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
