# The worker image: `points worker --queue points` (or notifications) as a non-root user.
# Build: docker build -t points-pipeline .   Run: docker run --env-file prod.env points-pipeline
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY producers ./producers
COPY consumers ./consumers
COPY infra ./infra
COPY ops ./ops
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin points
# Exactly the locked dependencies of points-pipeline[ops] (worker + CLI; no moto, Flask or
# docker SDK): --no-deps installs nothing unlisted, `pip check` fails on a missing pin.
COPY requirements/worker.lock /tmp/worker.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps -r /tmp/worker.lock /wheels/*.whl \
    && pip check \
    && rm -rf /wheels /tmp/worker.lock
USER 10001:10001
WORKDIR /home/points
# Configuration comes from the environment (pydantic-settings): AWS_REGION, credentials via
# the ECS task role, POINTS_DATABASE_URL from Secrets Manager, POINTS_WORKER_* tuning.
ENV PYTHONUNBUFFERED=1 \
    POINTS_WORKER_HEALTH_FILE=/tmp/points-worker.health
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["points", "worker", "--healthcheck"]
# ECS sends SIGTERM and waits stopTimeout (30 s): the worker stops receiving at once and
# finishes or releases its batches within POINTS_WORKER_SHUTDOWN_GRACE_SECONDS (20 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["points"]
CMD ["worker", "--queue", "points"]
