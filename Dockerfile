# syntax=docker/dockerfile:1
# KOIKI-FW backend image.
# Build: docker build -t koiki-fw .   (context = repository root)

# The -bookworm tag is deliberate: Debian 12's postgresql-client is 15, the same major version as
# the postgres:15 server, so `python -m ops backup` dumps with a matching pg_dump. A newer client
# (Debian 13 ships 17) writes SQL that a 15 server rejects on restore.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# hadolint ignore=DL3013
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip
COPY requirements/runtime.txt /tmp/runtime.txt
# Every package is pinned with hashes; --only-binary keeps compilers out of the image.
# pip compiles bytecode for plain `python`; the server runs with PYTHONOPTIMIZE=2 (see
# docker-entrypoint.sh), whose bytecode is compiled here as well. Like pip, this skips the files a
# package ships for newer Pythons only (they never load on 3.11).
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: --no-deps -r /tmp/runtime.txt \
    && /opt/venv/bin/python -c \
       "import compileall; compileall.compile_dir('/opt/venv/lib', quiet=2, optimize=2)"


FROM ${PYTHON_IMAGE} AS runtime

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Corporate CA: every *.crt / *.pem placed in docker/certs/ is added to the system trust store.
# The folder always exists (it holds a README), so the build works with no certificate at all;
# copying one fixed file name, as the deployment guide does, fails when that file is absent.
# Versions come from the pinned base image's Debian release, hence no apt pins.
# hadolint ignore=DL3008
RUN --mount=type=bind,source=docker/certs,target=/tmp/extra-ca \
    apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && for f in /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem; do \
         [ -f "$f" ] || continue; \
         name="$(basename "${f%.*}")"; \
         cp "$f" "/usr/local/share/ca-certificates/extra-${name}.crt"; \
         echo "trusting extra CA: ${name}"; \
       done \
    && update-ca-certificates

# Bytecode made at build time, as the file system may be read-only at run time (and the Python
# image ships its standard library without any): -o 0 for the start-up tasks and one-off commands,
# -o 2 for the server, which the entrypoint runs with PYTHONOPTIMIZE=2. Otherwise every process
# would compile what it imports at each start, and the server would keep the compiler's garbage.
RUN python -c "import compileall, sysconfig; \
compileall.compile_dir(sysconfig.get_paths()['stdlib'], quiet=2, optimize=[0, 2])"

# The commit in koiki_build_info: docker build --build-arg BUILD_COMMIT="$(git rev-parse --short HEAD)"
ARG BUILD_COMMIT=unknown
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    APP_ENV=production \
    BACKUP_DIR=/backups \
    BUILD_COMMIT=${BUILD_COMMIT}

RUN groupadd --system --gid 10001 appuser \
    && useradd --system --uid 10001 --gid appuser --home-dir /app --shell /usr/sbin/nologin appuser \
    && mkdir -p /app/var /backups \
    && chown appuser:appuser /app/var /backups

COPY --from=deps /opt/venv /opt/venv

WORKDIR /app
# Code stays owned by root: the app user can run it but not rewrite it.
COPY alembic.ini main.py ./
COPY alembic ./alembic
COPY libkoiki ./libkoiki
COPY app ./app
COPY ops ./ops
# The app's bytecode, as the file system may be read-only at run time (see the standard
# library's above).
RUN python -m compileall -q -o 0 -o 2 main.py alembic libkoiki app ops
COPY --chmod=0755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

# Numeric ids let orchestrators verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

# /health answers without touching the database, so a slow database never gets the container
# killed; readiness with dependencies is /health/ready. Python instead of curl: one tool less.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["docker-entrypoint.sh"]

# --proxy-headers trusts X-Forwarded-* only from the addresses in FORWARDED_ALLOW_IPS (uvicorn
# reads that variable itself); the entrypoint sets it from TRUSTED_PROXIES, the one setting to
# change, and the app refuses to start if the server believes a peer TRUSTED_PROXIES does not list.
# Keep-alive outlives nginx's upstream keepalive_timeout (60 s), so nginx never reuses a connection
# uvicorn is closing; on SIGTERM in-flight requests get 20 s (compose stop_grace_period is 30 s).
# The API serves no WebSocket: --ws none spares each worker loading a WebSocket implementation
# (1.5 MB of RSS); an upgrade request is answered as plain HTTP.
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--no-server-header", "--timeout-keep-alive", "75", "--timeout-graceful-shutdown", "20", \
     "--ws", "none"]
