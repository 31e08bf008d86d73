# One image for every docsvc service in docker-compose.yml: web, worker, indexer, scheduler.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DOCSVC_DATA_DIR=/var/lib/docsvc

# tesseract with Simplified Chinese and orientation detection (OSD), the CJK font pages and
# thumbnails are rendered with, and libGL/GLib, which opencv (inside RapidOCR) loads on import
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-osd fonts-wqy-zenhei libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies in their own layer, so a code change rebuilds in seconds: exactly the releases of
# the lock, each file checked against its SHA-256 (scripts/lock writes it; see docs/deployment.md).
COPY requirements/runtime.lock ./requirements/
RUN pip install --require-hashes -r requirements/runtime.lock

COPY pyproject.toml ./
COPY docsvc ./docsvc
COPY workers ./workers
COPY storage ./storage
COPY templates ./templates
COPY static ./static
# Editable, so the package is imported from /app where templates/ and static/ sit beside it; a
# plain wheel install would leave them behind.
RUN pip install --no-deps --editable .

RUN useradd --system --uid 10001 --home-dir /var/lib/docsvc --no-create-home docsvc \
 && mkdir -p /var/lib/docsvc \
 && chown docsvc:docsvc /var/lib/docsvc
USER docsvc

EXPOSE 8000
# Fits the default command (web); docker-compose.yml gives the other services their own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# gthread: a long upload occupies one thread, not a whole worker process that the timeout would kill;
# the two workers add up their metrics through PROMETHEUS_MULTIPROC_DIR (docsvc/metrics.py)
CMD ["sh", "-c", "mkdir -p /tmp/docsvc-metrics && PROMETHEUS_MULTIPROC_DIR=/tmp/docsvc-metrics exec gunicorn --bind 0.0.0.0:8000 --config python:docsvc.gunicorn_conf --access-logfile - --worker-class gthread --workers 2 --threads 8 docsvc.wsgi:app"]
