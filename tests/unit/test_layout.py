"""The repository layout that DESIGN.md decides, and the `platform` name trap."""

from __future__ import annotations

import ast
import importlib.util
import platform
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, clean_env, run_command, run_python

STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
FRAMEWORK_FREE = ("ingestion", "retrieval", "inference", "textproc")
OURS = {"django", "citewise", "frontend", "ingestion", "retrieval", "inference"}


def test_platform_folder_is_not_a_package():
    assert (REPO_ROOT / "platform" / "citewise").is_dir()
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_platform_under_pytest_is_the_standard_library():
    assert Path(platform.__file__).resolve().parent == STDLIB
    assert platform.system()


def test_platform_from_the_repository_root_is_the_standard_library():
    code = "import platform, citewise; print(platform.__file__); print(platform.system())"
    result = run_python(code, clean_env())
    assert result.returncode == 0, result.stderr
    module_file, system = result.stdout.split()
    assert Path(module_file).resolve().parent == STDLIB
    assert system == platform.system()


def test_platform_under_manage_py_is_the_standard_library(tmp_path):
    result = run_command(
        [sys.executable, "manage.py", "shell", "-c",
         "import platform; print(platform.__file__); print(platform.system())"],
        clean_env(CITEWISE_DATA_DIR=str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr
    # The shell prints a line about auto-imported objects first.
    module_file, system = result.stdout.split("\n")[-3:-1]
    assert Path(module_file).resolve().parent == STDLIB
    assert system == platform.system()


@pytest.mark.parametrize(
    ("package", "folder"),
    [("citewise", "platform/citewise"), ("ingestion", "ingestion"), ("retrieval", "retrieval"),
     ("inference", "inference"), ("textproc", "textproc"), ("frontend", "frontend")],
)
def test_packages_are_installed_from_their_folders(package, folder):
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().parent == (REPO_ROOT / folder).resolve()


def imported_packages(package: str) -> list[tuple[Path, str]]:
    """(file, top-level package) for every import statement under `package`."""
    found = []
    for path in (REPO_ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(path, n.split(".")[0]) for n in names]
    return found


@pytest.mark.parametrize("package", FRAMEWORK_FREE)
def test_libraries_never_import_django_or_citewise(package):
    offenders = [f"{path}: {name}" for path, name in imported_packages(package)
                 if name in {"django", "citewise", "frontend"}]
    assert offenders == []


def test_text_handling_is_a_leaf_that_imports_nothing_of_ours():
    """ingestion, retrieval and inference all import textproc; it imports none of them."""
    offenders = [f"{path}: {name}" for path, name in imported_packages("textproc")
                 if name in OURS]
    assert offenders == []
