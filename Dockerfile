# syntax=docker/dockerfile:1
# One image, every role (seed 001 §2.1): SERVICE_ROLE picks api, worker, relay, webhooks, smtp, registry or all;
# SERVICE_ROLE=migrate runs the migrations and exits. docs/operations.md shows how to build and run it.
#
# Debian's python3 (3.11.2+deb12) passes the header-injection self-test IEP runs at start (SPEC §4); the build
# runs that test too, so an image on an unsafe interpreter is never produced.

ARG DEBIAN=bookworm

# --- build: the virtual environment and the React Email toolchain (Bun, React, Tailwind from npm) ---
FROM debian:${DEBIAN}-slim AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY src/iep/kit/selftest.py /tmp/selftest.py
RUN python3 /tmp/selftest.py
RUN python3 -m venv /opt/iep/venv
COPY requirements.txt ./
RUN /opt/iep/venv/bin/pip install -r requirements.txt
COPY src/iep/rendering/react_email/package.json src/iep/rendering/react_email/package.json
RUN cd src/iep/rendering/react_email \
 && npm install --omit=dev --no-package-lock --no-audit --no-fund --loglevel=error \
 && ./node_modules/.bin/bun --version
COPY pyproject.toml README.md ./
COPY src ./src
# Editable: the package stays in /app/src beside its React Email toolchain (node_modules), copied as one tree.
RUN /opt/iep/venv/bin/pip install --no-deps -e . && /opt/iep/venv/bin/iep --help >/dev/null

# --- runtime: no compiler, no npm; a user of its own ---
FROM debian:${DEBIAN}-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# util-linux: setpriv, with which render processes drop privileges (scripts/programs.txt).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates util-linux tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 iep \
 && useradd --system --uid 10001 --gid iep --home-dir /var/lib/iep --create-home --shell /usr/sbin/nologin iep
COPY --from=build /opt/iep/venv /opt/iep/venv
COPY --from=build /app /app
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.sh /usr/local/bin/
WORKDIR /var/lib/iep
ENV PATH=/opt/iep/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    METRICS_PORT=9464 \
    SMTP_LISTEN=0.0.0.0:2525 \
    TEMPLATES_SOURCE_DIR=/var/lib/iep/templates \
    TEMPLATES_DIST_DIR=/var/lib/iep/templates-dist \
    STATE_DIR=/var/lib/iep/state \
    ATTACHMENTS_DIR=/var/lib/iep/attachments
RUN mkdir -p /var/lib/iep/templates /var/lib/iep/templates-dist /var/lib/iep/state /var/lib/iep/attachments \
 && chown -R iep:iep /var/lib/iep
USER 10001:10001
EXPOSE 8000 9464 2525
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["healthcheck.sh"]
ENTRYPOINT ["entrypoint.sh"]
