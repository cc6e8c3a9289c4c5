# The Gate Sentinel image: the `sentinel` command with the product (worker, migrations and the
# bundled rules, as package data) and the workbench (the simulator service runs it, from the
# checkout's layout). Built by docker-compose.yml; not used by `make demo` or `make test`.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY workbench ./workbench
COPY deploy ./deploy
# Editable: the workbench's commands need the checkout's layout (deploy/ beside the packages).
RUN pip install --no-cache-dir -e .

ENV SENTINEL_STATE_DIR=/var/lib/sentinel
RUN useradd --system --home /var/lib/sentinel --create-home sentinel
USER sentinel

ENTRYPOINT ["sentinel"]
CMD ["worker"]
