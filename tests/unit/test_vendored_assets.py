"""The vendored front-end files are exactly the pinned npm releases, with their licences."""

from __future__ import annotations

import json

from frontend.assets import LOCK_FILE, PACKAGES, VENDOR_DIR, sha256_of


def test_vendored_files_match_their_recorded_hashes():
    lock = json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    for name, entry in lock.items():
        for path, digest in entry["files"].items():
            assert sha256_of(VENDOR_DIR / path) == digest, f"{name}: {path} was changed by hand"


def test_the_lock_records_every_pinned_version_and_its_licence():
    lock = json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    assert {name: entry["version"] for name, entry in lock.items()} == {
        package.name: package.version for package in PACKAGES}
    for package in PACKAGES:
        assert f"{package.folder}/LICENSE" in lock[package.name]["files"]
