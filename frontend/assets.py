"""Vendored front-end assets: fetched from the npm registry by exact version, kept in git.

`make assets` (python -m frontend.assets) downloads each package's tarball, checks it
against the registry's sha512 integrity, and copies the files the pages load, with the
package's licence, into static/frontend/vendor/<folder>/. VERSIONS.json records what was
fetched and each file's sha256; a test holds the vendored files to it. So `make run` needs
no Node toolchain and no CDN, and an upgrade is one edit here plus `make assets`.

Standard library only: it runs before any virtual environment exists. An on-premises npm
mirror is used when NPM_CONFIG_REGISTRY is set, as npm itself does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "frontend" / "vendor"
LOCK_FILE = VENDOR_DIR / "VERSIONS.json"
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    folder: str  # under vendor/
    files: tuple[str, ...]  # paths inside the tarball's package/ folder

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


PACKAGES = (
    Package("htmx.org", "2.0.11", "htmx", ("dist/htmx.min.js", "LICENSE")),
    Package("htmx-ext-sse", "2.2.4", "htmx-ext-sse", ("dist/sse.min.js", "LICENSE")),
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _get(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not a registry URL: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (checked above)
        return response.read()


def _tarball(package: Package) -> bytes:
    """The package's tarball, refused unless it matches the registry's integrity hash."""
    metadata = json.loads(_get(f"{REGISTRY}/{package.name}/{package.version}"))
    data = _get(metadata["dist"]["tarball"])
    algorithm, _, expected = metadata["dist"]["integrity"].partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise RuntimeError(f"{package.spec}: tarball does not match the registry's integrity")
    return data


def fetch(package: Package) -> dict[str, str]:
    """Writes the package's files under vendor/; returns {vendored path: sha256}."""
    target = VENDOR_DIR / package.folder
    target.mkdir(parents=True, exist_ok=True)
    hashes = {}
    with tarfile.open(fileobj=io.BytesIO(_tarball(package)), mode="r:gz") as archive:
        for name in package.files:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise RuntimeError(f"{package.spec} has no file {name}")
            path = target / Path(name).name
            path.write_bytes(member.read())
            hashes[path.relative_to(VENDOR_DIR).as_posix()] = sha256_of(path)
    return hashes


def main() -> None:
    lock = {}
    for package in PACKAGES:
        lock[package.name] = {"version": package.version, "files": fetch(package)}
        print(f"vendored {package.spec}", file=sys.stderr)
    LOCK_FILE.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
