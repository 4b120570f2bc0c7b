"""The web process must start fast: loading the URLs and every view must not pull in the
machine-learning libraries, which only the worker and the ask path need."""

from __future__ import annotations

from tests.helpers import clean_env, run_python

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
