"""The web process must start fast: loading the URLs and every view must not pull in the
machine-learning libraries, which only the worker and the ask path need. The question
commands (`manage.py ask`, `search`) must start fast too: they load no view at all."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import clean_env, run_command, run_python

HEAVY = ("torch", "sentence_transformers", "faiss", "transformers")


def loaded_after_web_import(names: tuple[str, ...], tmp_path) -> list[str]:
    code = f"""
import sys, django
django.setup()
from django.urls import get_resolver
import citewise.asgi, citewise.urls, frontend.views

def walk(resolver):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern)
        else:
            pattern.callback  # imports the view
walk(get_resolver())
print(",".join(m for m in {names!r} if m in sys.modules))
"""
    env = clean_env(DJANGO_SETTINGS_MODULE="citewise.settings", CITEWISE_DATA_DIR=str(tmp_path))
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


def test_web_app_import_does_not_load_ml_libraries(tmp_path):
    assert loaded_after_web_import(HEAVY, tmp_path) == []


def test_the_probe_does_see_loaded_modules(tmp_path):
    """Guards the test above against passing vacuously."""
    assert loaded_after_web_import(("django", "celery", "prometheus_client"), tmp_path) == [
        "django", "celery", "prometheus_client"
    ]


# What the question commands must not load before they search: every URL and view (what
# Django's system checks import) and the machine-learning libraries.
NOT_FOR_THE_TERMINAL = ("citewise.urls", "citewise.api.views", "frontend.views",
                        "drf_spectacular.views", "rest_framework.views", *HEAVY)


@pytest.fixture(scope="module")
def migrated_data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    result = run_command([sys.executable, "manage.py", "migrate", "-v0"],
                         clean_env(CITEWISE_DATA_DIR=str(data_dir)))
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.mark.parametrize("command", ["ask", "search"])
def test_question_commands_start_without_views_or_models(command, migrated_data_dir):
    """A cold `manage.py ask` / `search` pays for Django and its own modules only: the
    views, the API's schema machinery and the models are for the web and for the first
    actual search (here the knowledge base does not exist, so there is none)."""
    code = f"""
import sys
from django.core.management import ManagementUtility
try:
    ManagementUtility(["manage.py", {command!r}, "a question", "--kb", "nope"]).execute()
except SystemExit as exit:
    print("exit", exit.code)
print("loaded:" + ",".join(m for m in {NOT_FOR_THE_TERMINAL!r} if m in sys.modules))
"""
    result = run_python(code, clean_env(CITEWISE_DATA_DIR=str(migrated_data_dir),
                                        DJANGO_SETTINGS_MODULE="citewise.settings"))
    assert "no knowledge base: nope" in result.stderr  # the command itself ran
    assert result.stdout.splitlines()[-2:] == ["exit 1", "loaded:"]
