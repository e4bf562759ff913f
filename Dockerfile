# Production image for Flowgate: one image runs every process (api, worker, ui, migrate); the command
# chooses which. Configuration comes from FLOWGATE_* environment variables (see docker-compose.yml).
#
#   docker build -t flowgate .
#   docker run --rm -p 8000:8000 -e FLOWGATE_DATABASE_URL=postgresql://… -e FLOWGATE_REDIS_URL=redis://… \
#       -e FLOWGATE_SECRET_KEY=… flowgate
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

# The project itself, without touching the pinned dependencies. No build isolation: the build uses
# the setuptools pinned in requirements.txt instead of downloading whatever is newest.
COPY . /tmp/flowgate-src
RUN pip install --no-deps --no-build-isolation /tmp/flowgate-src && rm -rf /tmp/flowgate-src

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
