# A CPU-only image that serves Koppelkans. Data (SQLite file, index files) lives in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    KOPPELKANS_DATA_DIR=/data KOPPELKANS_ENVIRONMENT=production \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

WORKDIR /srv/koppelkans
# The CPU wheel of torch first, so sentence-transformers does not pull a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seed ./seed
# Editable, so the migrations and seed folders beside app/ are found where the code expects them.
RUN pip install -e .

RUN useradd --system --create-home koppelkans && mkdir -p /data && chown koppelkans /data
USER koppelkans
VOLUME /data
EXPOSE 8000
# KOPPELKANS_SECRET_KEY must be set at run time; migrations and seeding are explicit steps:
#   docker run … koppelkans db upgrade && docker run … koppelkans seed
CMD ["koppelkans", "serve", "--host", "0.0.0.0", "--port", "8000"]
