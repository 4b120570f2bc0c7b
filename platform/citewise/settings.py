"""Citewise settings: everything an operator may change comes from the environment.

docs/configuration.md has a table of every variable read here; a test keeps the two in
step. Defaults are the embedded ones (SQLite and Celery's filesystem broker in the data
directory), so a laptop needs no other server.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from citewise.env import env_bool, env_float, env_int, env_list, env_secret, env_str
from citewise.knowledge.choices import AnswerBackend
from citewise.secret_key import load_or_create_secret_key
from retrieval.stores import parse_vector_store

BASE_DIR = Path(__file__).resolve().parent.parent.parent

ENVIRONMENT = env_str("CITEWISE_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"CITEWISE_ENV must be development or production, not {ENVIRONMENT!r}"
    )
PRODUCTION = ENVIRONMENT == "production"

DATA_DIR = Path(env_str("CITEWISE_DATA_DIR", str(BASE_DIR / "var"))).expanduser().resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Model loading draws progress bars on stderr; they garble logs and command output.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DEBUG = env_bool("CITEWISE_DEBUG", default=False)

SECRET_KEY = env_secret("CITEWISE_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "CITEWISE_SECRET_KEY (or CITEWISE_SECRET_KEY_FILE) must be set when "
            "CITEWISE_ENV=production; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # A local run keeps one generated key in the data dir, so sessions survive restarts.
    SECRET_KEY = load_or_create_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_COOKIES = env_bool("CITEWISE_SECURE_COOKIES", default=PRODUCTION)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
# No script of ours reads a cookie (the pages' scripts take the CSRF token from the form),
# so none is readable from JavaScript.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
if env_bool("CITEWISE_BEHIND_TLS_PROXY", default=False):
    # Only trust X-Forwarded-Proto when a proxy that sets it is really in front.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Strict-Transport-Security goes only on responses to HTTPS requests (directly, or through
# a proxy trusted by CITEWISE_BEHIND_TLS_PROXY), so a plain-HTTP laptop run never gets it.
SECURE_HSTS_SECONDS = env_int("CITEWISE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CITEWISE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("CITEWISE_HSTS_PRELOAD", default=False)

# Sign-in lockout (django-axes): after this many failed sign-ins for one user name from one
# address, that pair is refused for the lockout time, even with the right password. An
# admin lifts it early in Django's admin (Access attempts) or with `manage.py axes_reset`.
AXES_FAILURE_LIMIT = env_int("CITEWISE_SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("CITEWISE_SIGNIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "frontend.views.signin_locked_out"
# Successful sign-ins are in the audit log already; axes keeps only the failures.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no start-up banner in every command's output
# Masked in the form data axes keeps with each failed attempt (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AUTHENTICATION_BACKENDS = [
    "citewise.accounts.lockout.LockoutBackend",  # refuses a locked-out pair first
    "django.contrib.auth.backends.ModelBackend",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "citewise.ops",
    "citewise.accounts",
    "citewise.knowledge",
    "citewise.chat",
    "citewise.api",
    "citewise.audit",
    "frontend",
    "csp",
    "axes",
    "rest_framework",
    # Installed for its key hashing and admin helpers; our key model (accounts.ApiKey)
    # extends its abstract model. Its own concrete APIKey table stays unused.
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: no CDN
]

MIDDLEWARE = [
    "citewise.ops.middleware.RequestLogMiddleware",
    "citewise.audit.middleware.AuditContextMiddleware",
    "citewise.ops.outages.OutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the sign-in page's 429
]

# Every page: scripts, styles and everything else from our own origin only, no inline
# script or style and no eval, so text from a document or the model that slipped past the
# sanitiser still cannot run. Images also as data: URIs (icons). A response that sets its
# own policy (the original file's "sandbox") keeps it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

ROOT_URLCONF = "citewise.urls"
ASGI_APPLICATION = "citewise.asgi.application"
WSGI_APPLICATION = "citewise.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.console_link",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DB_CONNECT_TIMEOUT = env_int("CITEWISE_DB_CONNECT_TIMEOUT", 5, minimum=1)  # PostgreSQL
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'citewise.sqlite3'}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: WAL lets readers go on while
    # one writer holds the lock, and IMMEDIATE transactions wait for it instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # While the database is unreachable a request fails within this many seconds with a
    # 503 page (ops/outages.py) instead of hanging; each request after it comes back
    # reconnects (conn_health_checks), so no process needs a restart.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"  # /accounts/login/ (frontend/account_urls.py)
LOGIN_REDIRECT_URL = "frontend:chat"
LOGOUT_REDIRECT_URL = "login"
# A sign-in lasts this long (seconds; default two weeks, Django's), counted from signing
# in: renewing it on every request would write the session row on each one, streams
# included. A page used after it expires sends the person to sign in again.
SESSION_COOKIE_AGE = env_int("CITEWISE_SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
TIME_ZONE = env_str("CITEWISE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder at every start

# Uploaded originals (knowledge/storage.py): "local" keeps them in DATA_DIR/originals, which
# web and worker must share; "s3" puts them in an S3-compatible bucket (django-storages),
# so web and worker nodes on other machines keep nothing of them on their own disks.
ORIGINALS_STORAGE = env_str("CITEWISE_ORIGINALS_STORAGE", "local")
S3_OPTIONS = {
    "bucket_name": env_str("CITEWISE_S3_BUCKET"),
    "endpoint_url": env_str("CITEWISE_S3_ENDPOINT_URL") or None,
    "region_name": env_str("CITEWISE_S3_REGION") or None,
    "access_key": env_str("CITEWISE_S3_ACCESS_KEY_ID") or None,
    "secret_key": env_secret("CITEWISE_S3_SECRET_ACCESS_KEY"),
    "location": env_str("CITEWISE_S3_PREFIX"),
    "file_overwrite": True,  # same content, same name: writing it again changes nothing
    # Originals are served through Citewise (permissions, Content-Security-Policy), never
    # by signed links to the bucket.
    "querystring_auth": False,
    "default_acl": None,
}
if ORIGINALS_STORAGE == "local":
    # Names are "originals/<xx>/<sha256>" under DATA_DIR.
    ORIGINALS_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                         "OPTIONS": {"location": DATA_DIR, "allow_overwrite": True}}
elif ORIGINALS_STORAGE == "s3":
    if not S3_OPTIONS["bucket_name"]:
        raise ImproperlyConfigured("CITEWISE_ORIGINALS_STORAGE=s3 needs CITEWISE_S3_BUCKET")
    ORIGINALS_BACKEND = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": S3_OPTIONS}
else:
    raise ImproperlyConfigured(
        f"CITEWISE_ORIGINALS_STORAGE must be local or s3, not {ORIGINALS_STORAGE!r}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "originals": ORIGINALS_BACKEND,
}
# Outside production, serve static files straight from the apps: no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost/")
CELERY_TASK_TIME_LIMIT = env_int("CITEWISE_TASK_TIME_LIMIT", 3600, minimum=60)
# The soft limit raises inside the task first, so it can record why it stopped.
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
if CELERY_BROKER_URL.startswith("filesystem:"):
    # The embedded broker: queue files in the data dir, so `make run` needs no server.
    for folder in ("queue", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # Redis hands an unacknowledged task to another worker after this long; it must
    # exceed the longest task, or a slow task would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
WORKER_CONCURRENCY = env_int("CITEWISE_WORKER_CONCURRENCY", 1, minimum=1)

# --- Cache -----------------------------------------------------------------------------
# Shared by every web process when REDIS_URL is set (API rate limits must count across
# processes); otherwise this process's memory, enough for one embedded server.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST API (/api/v1/) ----------------------------------------------------------------
# Requests per minute a new API key may make; each key may set its own.
API_KEY_RATE_LIMIT = env_int("CITEWISE_API_KEY_RATE_LIMIT", 60, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["citewise.api.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["citewise.api.throttling.PerKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "citewise.api.problems.problem_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Citewise API",
    "DESCRIPTION": "Ask and search the knowledge bases an API key may read; every answer "
                   "cites its sources. Send the key as `Authorization: Bearer <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Answering and retrieval ----------------------------------------------------------
ANSWER_BACKEND = env_str("CITEWISE_ANSWER_BACKEND", AnswerBackend.EXTRACTIVE)
if ANSWER_BACKEND not in AnswerBackend.values:
    raise ImproperlyConfigured(
        f"CITEWISE_ANSWER_BACKEND must be one of {', '.join(AnswerBackend.values)}, "
        f"not {ANSWER_BACKEND!r}")
ANSWER_BACKEND = AnswerBackend(ANSWER_BACKEND)
VLLM_BASE_URL = env_str("VLLM_BASE_URL").rstrip("/")
VLLM_MODEL = env_str("VLLM_MODEL")
VLLM_API_KEY = env_secret("VLLM_API_KEY") or ""
VLLM_TIMEOUT = env_float("VLLM_TIMEOUT", 60.0)
VLLM_MAX_CONCURRENCY = env_int("VLLM_MAX_CONCURRENCY", 8, minimum=1)
# Streamed answers running at once per web process; more wait (with heartbeats) for a slot.
ANSWER_CONCURRENCY = env_int("CITEWISE_ANSWER_CONCURRENCY", 8, minimum=1)
VLLM_CONTEXT_LENGTH = env_int("VLLM_CONTEXT_LENGTH", 4096, minimum=512)
VLLM_MAX_TOKENS = env_int("VLLM_MAX_TOKENS", 512, minimum=16)
# When the LLM is down: answer with quoted passages (extractive) and say so, or fail.
LLM_FALLBACK = env_bool("CITEWISE_LLM_FALLBACK", default=False)
ASK_TOP_K = env_int("CITEWISE_ASK_TOP_K", 6, minimum=1)
# The evidence measure and the value below which the answer is "not found"; calibrated
# on the eval sets (benchmarks/answer_quality.py, results in benchmarks/RESULTS.md).
# "term_coverage" (the best passage's share of the question's terms, each weighted by its
# idf in the knowledge base) does not depend on the embedding model understanding the
# question's language, which the default one does not for Korean, and, unlike a plain
# share of words, it is not satisfied by words every document uses ("Python"). Measured
# over 200 answerable questions, 200 from the other eval set and 127 on the same subject
# that the documents do not answer: at 0.35 it refuses 0.015, 0.995 and 0.74 of them;
# the plain share ("coverage") at its best threshold, 0.25, refused 0.02, 0.975 and 0.61.
# Optional: a natural-language-inference cross-encoder (model id or local path) that then
# decides whether a cited passage supports a sentence not quoted from it word for word.
ENTAILMENT_MODEL = env_str("CITEWISE_ENTAILMENT_MODEL")
ENTAILMENT_THRESHOLD = env_float("CITEWISE_ENTAILMENT_THRESHOLD", 0.5)
ANSWERABILITY_FEATURE = env_str("CITEWISE_ANSWERABILITY_FEATURE", "term_coverage")
ANSWERABILITY_THRESHOLD = env_float("CITEWISE_ANSWERABILITY_THRESHOLD", 0.35)
if ANSWER_BACKEND == AnswerBackend.VLLM and not VLLM_BASE_URL:
    raise ImproperlyConfigured("CITEWISE_ANSWER_BACKEND=vllm needs VLLM_BASE_URL")
EMBEDDING_MODEL = env_str("CITEWISE_EMBEDDING_MODEL", "all-MiniLM-L6-v2")
# Knowledge bases created as Korean get a model that reads Korean: the English default
# does not, and its tokenizer fits only ~140 Korean characters in a passage. Measured on
# KorQuAD: extractive citation precision 0.89 -> 0.94 (benchmarks/RESULTS.md).
EMBEDDING_MODEL_KOREAN = env_str("CITEWISE_EMBEDDING_MODEL_KO",
                                 "universal-sentence-encoder-multilingual-3")
INDEX_DIR = DATA_DIR / "indexes"
# Where vector indexes live: FAISS files in INDEX_DIR (the default) or Milvus, shared by
# every node (retrieval/stores.py). BM25 files stay in INDEX_DIR either way.
try:
    VECTOR_STORE = parse_vector_store(env_str("CITEWISE_VECTOR_STORE", "faiss"))
except ValueError as error:
    raise ImproperlyConfigured(f"CITEWISE_VECTOR_STORE: {error}") from None
MILVUS_INDEX_TYPE = env_str("CITEWISE_MILVUS_INDEX_TYPE", "FLAT")
# "auto": the backend recorded for the model as the fastest at equal quality (onnx, i.e.
# fp32, for all-MiniLM-L6-v2 on CPU), "onnx" for other models on CPU, torch on a GPU
# (retrieval.embedder.choose_backend; benchmarks/RESULTS.md); for passages in bulk on a CPU
# with bf16 products (AMX, AVX-512 BF16), "openvino-bf16". "torch", "onnx", "onnx-int8" or
# "openvino-bf16" force one for everything. Exported models are cached here.
EMBEDDING_BACKEND = env_str("CITEWISE_EMBEDDING_BACKEND", "auto")
# retrieval.embedder.CHOICES, spelt out: importing it here would load numpy at start-up.
EMBEDDING_BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "openvino-bf16")
if EMBEDDING_BACKEND not in EMBEDDING_BACKENDS:
    raise ImproperlyConfigured(
        f"CITEWISE_EMBEDDING_BACKEND must be one of {', '.join(EMBEDDING_BACKENDS)}, "
        f"not {EMBEDDING_BACKEND!r}"
    )
ONNX_CACHE_DIR = Path(env_str("CITEWISE_ONNX_CACHE", str(DATA_DIR / "onnx"))).expanduser()
# The web server loads the knowledge bases' models when it starts, in the background
# (citewise.knowledge.warmup), instead of on its first question.
WARM_UP = env_bool("CITEWISE_WARM_UP", default=True)
RERANKER_MODEL = env_str("CITEWISE_RERANKER_MODEL")
DENSE_WEIGHT = env_float("CITEWISE_DENSE_WEIGHT", 1.0)
LEXICAL_WEIGHT = env_float("CITEWISE_LEXICAL_WEIGHT", 1.0)
# Weight of the list of candidates ranked by how well a heading of their sections matches
# the question, when a heading matches it word for word (retrieval/fusion.py); 0: off.
HEADING_WEIGHT = env_float("CITEWISE_HEADING_WEIGHT", 2.0)
# ... and the heading match below which that list does not vote (retrieval/fusion.py).
HEADING_MIN_MATCH = env_float("CITEWISE_HEADING_MIN_MATCH", 0.7)

# --- Ingestion ------------------------------------------------------------------------
MAX_UPLOAD_BYTES = env_int("CITEWISE_MAX_UPLOAD_MB", 100, minimum=1) * 1024 * 1024
CHUNK_TOKENS = env_int("CITEWISE_CHUNK_TOKENS", 256, minimum=32)
CHUNK_OVERLAP_TOKENS = env_int("CITEWISE_CHUNK_OVERLAP_TOKENS", 32, minimum=0)
EMBED_BATCH_SIZE = env_int("CITEWISE_EMBED_BATCH_SIZE", 32, minimum=1)
EMBED_MAX_BATCH_TOKENS = env_int("CITEWISE_EMBED_MAX_BATCH_TOKENS", 8192, minimum=64)
# A document whose worker has not reported for this long is handed to another worker.
INGEST_LEASE_SECONDS = env_int("CITEWISE_INGEST_LEASE_SECONDS", 600, minimum=30)
# A worker's ingestion task goes on with its knowledge base's other queued documents for
# up to this long, embedding and indexing them together (0: one document per task).
INGEST_BATCH_SECONDS = env_int("CITEWISE_INGEST_BATCH_SECONDS", 300, minimum=0)
# Per-document limits of the parser's child process (ingestion/bounded.py), in the worker
# and in `ingest --sync` alike: a file over them fails alone, with a reason.
PARSE_TIMEOUT_SECONDS = env_int("CITEWISE_PARSE_TIMEOUT_SECONDS", 300, minimum=1)
PARSE_MEMORY_MB = env_int("CITEWISE_PARSE_MEMORY_MB", 2048, minimum=256)
# Webhooks (a knowledge base's URL told when a document is indexed or fails): attempts
# in all, and the wait before the second, doubling after each failed attempt (30 s: the
# last of 6 attempts comes about 15 minutes after the first).
WEBHOOK_MAX_ATTEMPTS = env_int("CITEWISE_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
WEBHOOK_RETRY_SECONDS = env_float("CITEWISE_WEBHOOK_RETRY_SECONDS", 30.0)
WEBHOOK_TIMEOUT = env_float("CITEWISE_WEBHOOK_TIMEOUT", 10.0)
if WEBHOOK_RETRY_SECONDS < 0 or WEBHOOK_TIMEOUT <= 0:
    raise ImproperlyConfigured("CITEWISE_WEBHOOK_RETRY_SECONDS must be at least 0 and "
                               "CITEWISE_WEBHOOK_TIMEOUT more than 0")

# --- Running locally (`make run`) -----------------------------------------------------
RUN_HOST = env_str("HOST", "127.0.0.1")
RUN_PORT = env_int("PORT", 8000, minimum=1)
BOOTSTRAP_ADMIN_USER = env_str("CITEWISE_ADMIN_USER", "admin")
BOOTSTRAP_ADMIN_EMAIL = env_str("CITEWISE_ADMIN_EMAIL")
BOOTSTRAP_ADMIN_PASSWORD = env_secret("CITEWISE_ADMIN_PASSWORD")

# --- Retention (privacy rules) ---------------------------------------------------------
# Days to keep audit events and conversations (0: forever); a daily task deletes what is
# older (citewise/ops/retention.py). A conversation's age is that of its last message.
AUDIT_RETENTION_DAYS = env_int("CITEWISE_AUDIT_RETENTION_DAYS", 365, minimum=0)
CONVERSATION_RETENTION_DAYS = env_int("CITEWISE_CONVERSATION_RETENTION_DAYS", 0, minimum=0)

# --- Operations -----------------------------------------------------------------------
METRICS_ALLOWED_IPS = env_list("CITEWISE_METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
READY_WORKER_TIMEOUT = 2.0

LOG_LEVEL = env_str("CITEWISE_LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("CITEWISE_LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"CITEWISE_LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "citewise.ops.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "citewise.ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # With CITEWISE_DEBUG on, Django logs every SQL statement with its parameters at
        # DEBUG: documents' text and questions. Never, whatever the level.
        "django.db.backends": {"level": "INFO"},
        # httpx logs each request's whole URL at INFO (a webhook's secret path, a query)
        # and httpcore its connection chatter at DEBUG; our own lines say what matters.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "INFO"},
        # Its parser's state at every block of every answer: noise at DEBUG.
        "markdown_it": {"level": "INFO"},
        # axes says INFO on every sign-in and failure (the audit log has them); its
        # lockout warnings stay.
        "axes": {"level": "WARNING"},
        # Our request log replaces Django's, which would log each failing URL twice.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # The chunker measures whole sections before splitting them; the tokenizer's
        # "longer than the maximum" warning about those measurements is noise.
        "transformers.tokenization_utils_base": {"level": "ERROR"},
        # Model and index loading chatter, once per process.
        "faiss.loader": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
    },
}
