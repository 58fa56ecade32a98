# One image for the api and worker services (docker-compose.yml).
FROM python:3.12-slim
# gcc and headers: durable-rules ships as an sdist and compiles its C core.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config.py cli.py cli_foresight.py cli_security.py worker.py devstack.py ./
COPY rules rules
COPY store store
COPY activities activities
COPY workflows workflows
COPY api api
COPY services services
COPY policies policies
RUN pip install --no-cache-dir .
# a non-root user with a writable var dir (session secret, audit key, the pages' state);
# compose mounts a volume there so API restarts keep the secret and the key
RUN useradd --system --home-dir /app segflow && mkdir -p /app/var && chown segflow /app/var \
    && chmod 0700 /app/var
ENV SEGFLOW_VAR_DIR=/app/var
USER segflow
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]
