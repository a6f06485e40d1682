# The Prefect worker image: the project and its locked dependencies, no secrets.
# Configuration (DATABASE_URL, RUSTFS_*, PREFECT_API_URL, ...) comes from the environment.
FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY fleettickets ./fleettickets
COPY flows ./flows
COPY tasks ./tasks
COPY migrations ./migrations
COPY prefect.yaml ./
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 fleettickets
WORKDIR /app
COPY --from=build --chown=fleettickets:fleettickets /app /app
ENV PATH="/app/.venv/bin:$PATH" FLEETTICKETS_PROJECT_DIR=/app PYTHONUNBUFFERED=1
USER 10001:10001
HEALTHCHECK --interval=60s --timeout=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, os; urllib.request.urlopen(os.environ['PREFECT_API_URL'] + '/health', timeout=5)"]
CMD ["prefect", "worker", "start", "--pool", "fleettickets", "--type", "process"]
