# The Gate Sentinel image: the `sentinel` command, its Faust worker, and the repo's deploy/ files
# (migrations, rule sets). Built by docker-compose.yml; not used by `make demo` or `make test`.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY deploy ./deploy
# Editable, so that the package finds deploy/ beside it, as in a checkout.
RUN pip install --no-cache-dir -e .

ENV SENTINEL_STATE_DIR=/var/lib/sentinel
RUN useradd --system --home /var/lib/sentinel --create-home sentinel
USER sentinel

ENTRYPOINT ["sentinel"]
CMD ["worker"]
