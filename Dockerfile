# One image for the web server and the worker (docker-compose.yml runs it twice).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CITEWISE_DATA_DIR=/data \
    HF_HUB_OFFLINE=1

# OCR for scanned PDFs and images (English and Korean); curl for the healthcheck;
# pg_dump, pg_restore and psql for `manage.py backup` and `restore` (docs/operations.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-kor curl \
    postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY platform ./platform
COPY ingestion ./ingestion
COPY retrieval ./retrieval
COPY inference ./inference
COPY frontend ./frontend
COPY textproc ./textproc
# Citewise's own documentation: the demo knowledge base (load_demo).
COPY docs ./docs
COPY manage.py ./
# A GPU worker wants torch's CUDA build; a CPU-only host can point pip at a CPU index
# with --build-arg PIP_EXTRA_INDEX_URL=...
ARG PIP_EXTRA_INDEX_URL=""
# Optional parts (pyproject's extras): s3 keeps originals in S3-compatible storage.
ARG CITEWISE_EXTRAS="s3"
RUN pip install -c requirements/constraints.txt -e ".[${CITEWISE_EXTRAS}]" \
 && useradd --create-home --uid 1000 citewise \
 && mkdir -p /data && chown citewise /data

USER citewise
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "citewise.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
