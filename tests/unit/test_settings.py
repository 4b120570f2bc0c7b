"""Settings come from the environment, with safe defaults and clear refusals."""

from __future__ import annotations

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from citewise.env import env_bool, env_int, env_list, env_secret
from tests.helpers import clean_env, run_python, settings_in_fresh_process


def startup_error(tmp_path, **variables: str) -> str:
    """What a process prints when it refuses to start with these variables."""
    env = clean_env(CITEWISE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="citewise.settings",
                    **variables)
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0, "the process started"
    return result.stderr


def test_embedded_defaults_need_no_server(tmp_path):
    values = settings_in_fresh_process(
        clean_env(CITEWISE_DATA_DIR=str(tmp_path)),
        "DEBUG", "DATABASES", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS",
        "SESSION_COOKIE_SECURE", "LOG_FORMAT", "ANSWER_BACKEND",
    )
    assert values["DEBUG"] is False
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"] == str(tmp_path / "citewise.sqlite3")
    assert values["CELERY_BROKER_URL"].startswith("filesystem:")
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["data_folder_in"].startswith(str(tmp_path))
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["LOG_FORMAT"] == "text"
    assert values["ANSWER_BACKEND"] == "extractive"


def test_services_come_from_urls(tmp_path):
    values = settings_in_fresh_process(
        clean_env(
            CITEWISE_DATA_DIR=str(tmp_path),
            DATABASE_URL="postgres://citewise:pw@db.internal:5433/kb",
            REDIS_URL="redis://cache.internal:6379/2",
        ),
        "DATABASES", "CELERY_BROKER_URL",
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.internal", 5433, "kb")
    assert values["CELERY_BROKER_URL"] == "redis://cache.internal:6379/2"


def test_local_secret_key_is_generated_once_and_kept_private(tmp_path):
    env = clean_env(CITEWISE_DATA_DIR=str(tmp_path))
    first = settings_in_fresh_process(env, "SECRET_KEY")["SECRET_KEY"]
    second = settings_in_fresh_process(env, "SECRET_KEY")["SECRET_KEY"]
    assert first == second and len(first) >= 50
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    assert "CITEWISE_SECRET_KEY" in startup_error(tmp_path, CITEWISE_ENV="production")
    assert not (tmp_path / "secret_key").exists()


def test_production_reads_the_secret_from_a_file_and_hardens_defaults(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text("s3cret-from-a-mounted-file\n")
    values = settings_in_fresh_process(
        clean_env(CITEWISE_DATA_DIR=str(tmp_path), CITEWISE_ENV="production",
                  CITEWISE_SECRET_KEY_FILE=str(secret_file)),
        "SECRET_KEY", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LOG_FORMAT", "DEBUG",
    )
    assert values == {
        "SECRET_KEY": "s3cret-from-a-mounted-file", "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True, "LOG_FORMAT": "json", "DEBUG": False,
    }


def test_a_mistyped_setting_is_refused_with_its_name(tmp_path):
    error = startup_error(tmp_path, CITEWISE_DEBUG="maybe")
    assert "CITEWISE_DEBUG must be true or false" in error


def test_vllm_backend_needs_a_base_url(tmp_path):
    error = startup_error(tmp_path, CITEWISE_ANSWER_BACKEND="vllm")
    assert "CITEWISE_ANSWER_BACKEND=vllm needs VLLM_BASE_URL" in error


def test_env_readers(monkeypatch, tmp_path):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    assert env_bool("X_BOOL", default=False) is True
    assert env_bool("X_UNSET", default=True) is True
    assert env_int("X_INT", 3) == 12
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be a whole number"):
        env_int("X_INT", 3)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_INT", 3, minimum=1)
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE"):
        env_secret("X_SECRET")


def test_hsts_and_the_sign_in_lockout_come_from_the_environment(tmp_path):
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
             "AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME")
    defaults = settings_in_fresh_process(clean_env(CITEWISE_DATA_DIR=str(tmp_path)), *names)
    assert defaults == {"SECURE_HSTS_SECONDS": 31536000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
                        "SECURE_HSTS_PRELOAD": False, "AXES_FAILURE_LIMIT": 5,
                        "AXES_COOLOFF_TIME": "0:15:00"}
    chosen = settings_in_fresh_process(clean_env(
        CITEWISE_DATA_DIR=str(tmp_path), CITEWISE_HSTS_SECONDS="0",
        CITEWISE_HSTS_INCLUDE_SUBDOMAINS="true", CITEWISE_HSTS_PRELOAD="true",
        CITEWISE_SIGNIN_FAILURE_LIMIT="10", CITEWISE_SIGNIN_LOCKOUT_MINUTES="60"), *names)
    assert chosen == {"SECURE_HSTS_SECONDS": 0, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
                      "SECURE_HSTS_PRELOAD": True, "AXES_FAILURE_LIMIT": 10,
                      "AXES_COOLOFF_TIME": "1:00:00"}
    assert "CITEWISE_SIGNIN_FAILURE_LIMIT must be" in startup_error(
        tmp_path, CITEWISE_SIGNIN_FAILURE_LIMIT="0")
