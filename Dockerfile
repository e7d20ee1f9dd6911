# syntax=docker/dockerfile:1
# channels-stack's images, from one file (README.md, "Containers"):
#
#   app (the default target)  daphne | http | migrate | manage ARGS... : the command picks the role
#   nginx (--target nginx)    the site, its config rendered from nginx/ at build time
#
#   docker build -t channels-stack .                       # or: podman build --format docker ...
#   docker build --target nginx --build-arg SERVER_NAMES=chat.example.org -t channels-stack-nginx .
#   docker build --secret id=ca,src=corporate-ca.pem ...   # pip behind a TLS-inspecting proxy
#
# The base images are official ones pinned by tag. Pin by digest for reproducible builds
# (PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:...); CI, which reaches no registry, passes
# locally built equivalents (tests/containers/images/).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG NGINX_IMAGE=nginx:1.28.0-bookworm

# --- render: the templates, with ops/container.yml. Jinja2 and PyYAML only; nothing of this
# stage but the rendered files reaches an image.
FROM ${PYTHON_IMAGE} AS render
ARG SERVER_NAMES=example.com
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY app/requirements/pip.txt ops/render-requirements.txt ops/
# The optional build secret "ca": a CA bundle pip trusts instead of its own (corporate proxies).
# The locked pip first, whatever pip the base image's venv has (app/requirements/pip.in).
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /opt/render \
    && /opt/render/bin/pip install --quiet --require-hashes -r ops/pip.txt \
    && /opt/render/bin/pip install --quiet --require-hashes --no-deps -r ops/render-requirements.txt
COPY ops/ ops/
COPY nginx/*.j2 nginx/
COPY systemd/*.j2 systemd/
# Each file to its installed path (ops/outputs.yml), below /tree: the stages copy from there.
RUN /opt/render/bin/python -m ops.render --install --destdir /tree --vars ops/container.yml \
        --set "app_server_names=[${SERVER_NAMES}]" nginx container \
    && echo "${SERVER_NAMES%%,*}" >/tree/etc/nginx/healthcheck-host

# --- build: the hashed lock into a virtualenv (any wheel is built here), static files ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY app/requirements/pip.txt app/requirements/base.txt /tmp/
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /app/venv \
    && /app/venv/bin/pip install --quiet --require-hashes -r /tmp/pip.txt \
    && /app/venv/bin/pip install --quiet --require-hashes --no-deps -r /tmp/base.txt
COPY app/ /app/app/
COPY --from=render /tree/app/bin/ /app/bin/
# collectstatic needs settings, not secrets: throwaway values that live in this one command
# (production settings refuse a short key, so a random one that signs nothing).
RUN SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        REDIS_URL=redis://collectstatic.invalid ALLOWED_HOSTS=collectstatic.invalid \
        DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
        /app/bin/entrypoint manage collectstatic --noinput --verbosity 0 \
    && /app/venv/bin/python -m compileall -q /app/app

# --- nginx: the official image, the rendered config, the static files ---------------------------
FROM ${NGINX_IMAGE} AS nginx
COPY --from=render /tree/etc/nginx/ /etc/nginx/
COPY --from=build /app/static/ /app/static/
COPY nginx/container-entrypoint.sh /usr/local/bin/container-entrypoint.sh
# The image's own example site would answer on port 80 (our nginx.conf does not include it).
RUN rm -f /etc/nginx/conf.d/default.conf
EXPOSE 80 443
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/container-entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/container-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]

# --- app: the runtime. No compiler, no renderer, not root ---------------------------------------
FROM ${PYTHON_IMAGE} AS app
ARG APP_UID=10001
RUN groupadd --gid "${APP_UID}" app \
    && useradd --uid "${APP_UID}" --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
# Owned by root, read-only to the app: the code cannot be changed by the process running it.
COPY --from=build /app/venv/ /app/venv/
COPY --from=build /app/app/ /app/app/
COPY --from=build /app/static/ /app/static/
COPY --from=render /tree/app/bin/ /app/bin/
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER app
WORKDIR /app/app
EXPOSE 8000 8001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/app/bin/entrypoint", "healthcheck"]
ENTRYPOINT ["/app/bin/entrypoint"]
CMD ["daphne"]
