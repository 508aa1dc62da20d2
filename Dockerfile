# syntax=docker/dockerfile:1
# The Tenantry image: one image for every process (`tenantry api|worker|migrate|
# host-agent|edge-agent`); the compose file picks the command.
#
#   docker build -t tenantry:latest .
#
# BASE_IMAGE is any Debian-like image with Python 3.11+ at `python3` and its venv module.
# Production builds take the upstream default; a machine without a registry passes a
# locally built one (tests/deploy does: Debian's rootfs from mmdebstrap, `docker import`).
# deploy/wheelhouse/ is searched before the index, so an offline build puts every wheel
# there first (`pip wheel -w deploy/wheelhouse .`) and passes --build-arg OFFLINE_WHEELS=1.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS deps
# Non-empty: install from deploy/wheelhouse/ only, never the index.
ARG OFFLINE_WHEELS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_FIND_LINKS=/wheelhouse
RUN python3 -m venv /opt/tenantry
COPY deploy/wheelhouse/ /wheelhouse/
# The dependencies, from pyproject.toml alone (no packages yet, an empty readme): this
# stage is rebuilt only when they change, and so is its layer in the runtime image.
COPY pyproject.toml /src/pyproject.toml
RUN touch /src/README.md \
    && /opt/tenantry/bin/pip install ${OFFLINE_WHEELS:+--no-index} /src \
    && /opt/tenantry/bin/pip uninstall -y tenantry

# The project itself, beside the venv (--target): a release changes only this small layer.
FROM deps AS app
ARG OFFLINE_WHEELS=
COPY README.md /src/README.md
COPY tenantry /src/tenantry
COPY workflows /src/workflows
COPY activities /src/activities
COPY api /src/api
COPY worker /src/worker
COPY db /src/db
COPY devstack /src/devstack
RUN /opt/tenantry/bin/pip install ${OFFLINE_WHEELS:+--no-index} --no-deps \
        --target /opt/tenantry-app /src \
    && PYTHONPATH=/opt/tenantry-app /opt/tenantry-app/bin/tenantry --help >/dev/null

FROM ${BASE_IMAGE} AS runtime
# A fixed uid, so that volumes and secret files can be owned by it on the host.
RUN groupadd --system --gid 10001 tenantry \
    && useradd --system --uid 10001 --gid tenantry --home-dir /var/lib/tenantry \
       --shell /usr/sbin/nologin tenantry \
    && mkdir -p /var/lib/tenantry/ssh \
    && chown -R tenantry:tenantry /var/lib/tenantry
COPY --from=deps /opt/tenantry /opt/tenantry
COPY --from=app /opt/tenantry-app /opt/tenantry-app
ENV PATH=/opt/tenantry-app/bin:/opt/tenantry/bin:$PATH \
    PYTHONPATH=/opt/tenantry-app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TENANTRY_STATE_DIR=/var/lib/tenantry \
    TENANTRY_API_HOST=0.0.0.0 \
    TENANTRY_API_PORT=8000
USER tenantry
WORKDIR /var/lib/tenantry
EXPOSE 8000
# The API answers /healthz itself; the other processes have no port, so the compose file
# gives each of them its own check (or none).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('TENANTRY_API_PORT', '8000')}/healthz\", timeout=3)"]
ENTRYPOINT ["tenantry"]
CMD ["api"]
