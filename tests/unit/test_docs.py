"""docs/configuration.md documents exactly the variables the settings read."""

from __future__ import annotations

import re

from citewise.env import READ_VARIABLES
from tests.helpers import REPO_ROOT


def documented_variables() -> set[str]:
    text = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`", text, flags=re.MULTILINE))


def test_every_setting_is_documented():
    # Secrets readable from a file are documented once, as NAME (with NAME_FILE noted).
    read = {name for name in READ_VARIABLES if not name.endswith("_FILE")}
    assert read - documented_variables() == set()


def test_no_documented_setting_is_stale():
    read = {name.removesuffix("_FILE") for name in READ_VARIABLES}
    assert documented_variables() - read == set()


def test_readme_starts_with_the_two_commands():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("make ")]
    assert commands[:2] == ["make run", "make test"]
