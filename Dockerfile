# kora-gateway: the GraphQL gateway in front of the substrate, GraphiQL's files included.
#
#   docker build -t kora-gateway .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgresql://kora_gateway:...@db/substrate kora-gateway
#
# The substrate must exist in that database (the gateway only reads it).
ARG PYTHON_VERSION=3.11.14

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/gateway
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# GraphiQL's files come from the npm registry at build time, pinned and verified (never committed).
RUN /opt/gateway/bin/pip install --no-cache-dir . \
    && /opt/gateway/bin/gateway fetch-assets --dir /opt/gateway/assets

FROM python:${PYTHON_VERSION}-slim-bookworm
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --create-home \
       --shell /usr/sbin/nologin gateway
COPY --from=build /opt/gateway /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    GATEWAY_ASSETS_DIR=/opt/gateway/assets
USER 10001:10001
WORKDIR /var/lib/gateway
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as r; port = os.environ.get('GATEWAY_PORT', '8000'); sys.exit(r.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["gateway"]
CMD ["serve"]
