# The Python that CI tests (.ci/run runs the suite on 3.11, the floor of requires-python).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot:bot /data
WORKDIR /app

# Dependencies first, in their own layer: editing the source does not reinstall them. The
# postgres extra too, so the same image serves compose.yaml's PostgreSQL set-up.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > /tmp/requirements.txt \
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
# `python -m bot health` asks it on HTTP_HOST/HTTP_PORT, whatever port the settings give.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot"]
