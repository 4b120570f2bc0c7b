"""A local S3-compatible server for tests: moto's standalone server (`moto[server]`), run
as its own process on a free port. It stands in for the real object store (AWS S3,
MinIO, Ceph...), which cannot run here; Citewise talks to it through the same
django-storages + boto3 client and the same HTTP API."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 60
REGION = "us-east-1"
# moto accepts any credentials; these are what a real deployment would put in its secrets.
ACCESS_KEY = "citewise-test"
SECRET_KEY = "citewise-test-secret"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    bucket: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def keys(self) -> set[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return {item["Key"] for item in listed.get("Contents", [])}

    def environment(self) -> dict[str, str]:
        """The settings (environment variables) that put a process's originals here."""
        return {"CITEWISE_ORIGINALS_STORAGE": "s3", "CITEWISE_S3_BUCKET": self.bucket,
                "CITEWISE_S3_ENDPOINT_URL": self.endpoint, "CITEWISE_S3_REGION": REGION,
                "CITEWISE_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "CITEWISE_S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def storages(self, storages: dict) -> dict:
        """`storages` (settings.STORAGES) with the originals in this bucket: what
        environment() above gives a process (citewise/settings.py)."""
        from django.conf import settings

        options = {**settings.S3_OPTIONS, "bucket_name": self.bucket,
                   "endpoint_url": self.endpoint, "region_name": REGION,
                   "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
        return {**storages, "originals": {"BACKEND": "storages.backends.s3.S3Storage",
                                          "OPTIONS": options}}


def run_object_store(port: int, log_path: Path) -> Iterator[ObjectStore]:
    """Start moto's server on 127.0.0.1:`port` with a new bucket; stop it afterwards."""
    endpoint = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        store = ObjectStore(endpoint, f"citewise-{uuid.uuid4().hex[:8]}")
        store.client().create_bucket(Bucket=store.bucket)
        yield store
    finally:
        process.terminate()
        process.wait(timeout=20)
