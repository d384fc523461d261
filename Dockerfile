# The API and the workers: one image, the command picks the role (see docker-compose.yml).
# Stage 1 compiles the Cython core into a wheel and collects the dependencies' wheels;
# stage 2 installs those wheels only: no compiler, no source tree, not root.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# behind a TLS-inspecting proxy, mount its CA bundle and name it:
#   -v /etc/ssl/certs/ca-certificates.crt:/opt/ca.pem:ro --build-arg PIP_CERT_FILE=/opt/ca.pem
ARG PIP_CERT_FILE=""
WORKDIR /build
COPY pyproject.toml ./
# the dependencies first, so that a source change reuses this layer
RUN if [ -n "$PIP_CERT_FILE" ]; then export PIP_CERT="$PIP_CERT_FILE"; fi \
 && python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && pip wheel --wheel-dir /wheels -r requirements.txt
COPY setup.py README.md ./
COPY core ./core
COPY schema ./schema
COPY server ./server
COPY sql ./sql
RUN if [ -n "$PIP_CERT_FILE" ]; then export PIP_CERT="$PIP_CERT_FILE"; fi \
 && pip wheel --no-deps --wheel-dir /wheels . \
 && sha256sum /wheels/*.whl > /wheels/SHA256SUMS

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# LightGBM's OpenMP runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# podman's build cache does not key a RUN on what it bind-mounts: copying the wheels'
# checksums first makes a new wheel rebuild this layer instead of reusing a stale one
COPY --from=builder /wheels/SHA256SUMS /tmp/wheels.sha256
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels football-probability-engine \
 && rm /tmp/wheels.sha256 \
 && fpe --version
RUN useradd --create-home --uid 10001 fpe
USER fpe
WORKDIR /home/fpe
ENV FPE_DATA_DIR=/home/fpe/data
EXPOSE 8000
# the API's readiness (PostgreSQL and Redis reachable); FPE_PORT when it serves elsewhere
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('FPE_PORT', '8000'), timeout=4)"]
CMD ["fpe", "serve", "--host", "0.0.0.0", "--port", "8000"]
