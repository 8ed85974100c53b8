# One image for the API and the worker; the command chooses (`vagt api`, `vagt worker`).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/vagt
WORKDIR /src
COPY pyproject.toml README.md worker.py ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY store store
COPY api api
COPY vagt vagt
RUN /opt/vagt/bin/pip install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv/vagt --create-home vagt
COPY --from=build /opt/vagt /opt/vagt
# worker.py is a top-level module; run from a folder holding nothing else of ours.
WORKDIR /srv/vagt
USER vagt
ENV PATH=/opt/vagt/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VAGT_DATA_DIR=/srv/vagt/var \
    VAGT_API_HOST=0.0.0.0
EXPOSE 8000
# The API's; docker-compose.yml gives the worker `vagt worker-health` instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s CMD ["vagt", "api-health"]
CMD ["vagt", "api"]
