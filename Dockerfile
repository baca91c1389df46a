FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot:bot /data
WORKDIR /app

# Dependencies first, in their own layer: editing the source does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY bot ./bot
COPY cogs ./cogs

# The SQLite file lives on the volume; the HTTP server listens on all interfaces in the container.
ENV DATABASE_URL=sqlite:////data/bot.sqlite3 \
    HTTP_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
USER bot
# /healthz answers 200 only while the bot is connected to Discord and its database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["python", "-m", "bot"]
