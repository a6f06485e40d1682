# The Prefect worker image: the project's wheel with its locked dependencies; no checkout, no secrets.
# scripts/install_wheel.sh builds the wheel and installs it (pyproject.toml says what it holds);
# tests/test_wheel.py runs the same script, then this image's commands from an empty directory.
# Configuration (DATABASE_URL, RUSTFS_*, PREFECT_API_URL, ...) comes from the environment.
FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY . .
RUN scripts/install_wheel.sh /opt/fleettickets /usr/local/bin/python3

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 fleettickets
COPY --from=build /opt/fleettickets /opt/fleettickets
ENV PATH="/opt/fleettickets/bin:$PATH" PYTHONUNBUFFERED=1 PREFECT_WORKER_WEBSERVER_PORT=8080
USER 10001:10001
WORKDIR /home/fleettickets
# The worker's own health endpoint (--with-healthcheck): 503 once the worker stops polling.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PREFECT_WORKER_WEBSERVER_PORT'] + '/health', timeout=5)"]
CMD ["prefect", "worker", "start", "--pool", "fleettickets", "--type", "process", "--with-healthcheck"]
