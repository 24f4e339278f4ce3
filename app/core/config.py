"""Settings, read from environment variables prefixed ``KOPPELKANS_``.

Read them through :func:`get_settings` (cached) and never at import time, so tests can
override them by setting the environment and clearing the cache.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOPPELKANS_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    # Empty means: a SQLite file in data_dir.
    database_url: str = ""
    # Signs session cookies and CSRF tokens; refused at start-up outside development while a placeholder.
    secret_key: str = PLACEHOLDER_SECRET

    # Anonymous self-registration and password login: requests per window per client address.
    registration_rate_limit: int = 10
    login_rate_limit: int = 20
    rate_limit_window_seconds: int = 60

    # E-mail. Without an SMTP server every message is written as an .eml file to <data_dir>/outbox/
    # (its path is logged, never the address). With one, it is sent there:
    # smtp://host:25 (plain), smtp+starttls://host:587 (STARTTLS), smtps://host:465 (TLS from the
    # start), each optionally with user:password@ before the host (percent-encode special characters).
    # Mail is queued in the database and sent after the transaction that queued it commits, by a
    # background sender in the web app or by `koppelkans mail send` (cron), with retries.
    smtp_url: str = ""
    # The sender of every message.
    mail_from: str = "Koppelkans <noreply@koppelkans.invalid>"
    # Where people reach the web interface: links in e-mails (edit links) start with it.
    public_url: str = "http://127.0.0.1:8000"

    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed: a comma-separated
    # list of addresses or networks (e.g. "127.0.0.1" for nginx on the same host, "10.0.0.0/8").
    # Empty (the default): no proxy is trusted and every client is counted by its own address, so
    # nobody escapes the rate limits by sending such a header. Set it only to the proxy's own
    # address, and let the proxy overwrite the header (nginx: proxy_set_header X-Forwarded-For
    # $remote_addr), or a client could still choose its address.
    trusted_proxies: str = ""

    # Lifetime of a token issued by password login.
    login_token_hours: int = 12
    max_body_bytes: int = 1_000_000

    # Matching engine: a sentence-transformers model name or path; empty means the bundled all-MiniLM-L6-v2.
    embedding_model: str = ""
    # How the dense model runs: "auto" (the default: "torch-bf16" where the CPU has AMX, else
    # "onnx-int8"), "torch-bf16" (bfloat16 on AMX: about three times torch's float32 speed, vectors
    # at cosine ~0.9999 to float32; slow without AMX), "onnx-int8" (ONNX Runtime, int8 weights: about
    # twice torch's speed, cosine ~0.997), "onnx" (ONNX Runtime, float32: torch's vectors) or
    # "torch". The ONNX file is exported once from the local weights into model_cache_dir.
    embedding_backend: Literal["auto", "torch-bf16", "onnx-int8", "onnx", "torch"] = "auto"
    # Empty means: models/ in data_dir.
    model_cache_dir: Path | None = None
    # Whether the multilingual encoder (USE-multilingual-v3) is used beside the dense model.
    multilingual_encoder: bool = True
    # Set to false to start without loading models (the matching endpoints then answer 503).
    matching_enabled: bool = True
    # How long the index change log keeps a write. A worker that slept longer than this rebuilds its
    # index from the database when it wakes, instead of catching up write by write.
    change_log_retention_hours: float = 24 * 7

    # Memory for the candidates and explanation texts kept per stored need and company between matches
    # (app/matching/materialised.py); 0 keeps nothing and finds every match afresh.
    materialised_matches_mb: int = Field(96, ge=0)
    # Whether every need's companies are found again in the background after a start or a merge,
    # with a deeper search than a request makes, so that a need's matches are answered at once.
    precompute_matches: bool = True

    # How long what match lists record (new match records, audit lines of contact details shown)
    # waits in the process's journal before it is committed, many answers at once
    # (app/services/recording.py). The journal is in data_dir/journal: keep it across restarts.
    record_flush_seconds: float = Field(0.2, gt=0, le=60)

    # Where big segments keep their ANN index: "faiss" (in each process) or "pgvector" (in the
    # PostgreSQL database of database_url, shared by the workers).
    vector_store: Literal["faiss", "pgvector"] = "faiss"

    @field_validator("vector_store", mode="before")
    @classmethod
    def _known_vector_store(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("faiss", "pgvector"):
            return value.strip().lower()
        raise ValueError(f"KOPPELKANS_VECTOR_STORE must be 'faiss' or 'pgvector', not {value!r}")

    @field_validator("embedding_backend", mode="before")
    @classmethod
    def _known_backend(cls, value: object) -> object:
        known = ("auto", "torch-bf16", "onnx-int8", "onnx", "torch")
        if isinstance(value, str) and value.strip().lower() in known:
            return value.strip().lower()
        raise ValueError(
            "KOPPELKANS_EMBEDDING_BACKEND must be 'auto', 'torch-bf16', 'onnx-int8', 'onnx' or 'torch', "
            f"not {value!r}"
        )

    @field_validator("smtp_url")
    @classmethod
    def _known_smtp_scheme(cls, value: str) -> str:
        value = value.strip()
        if value and value.split("://", 1)[0] not in SMTP_SCHEMES:
            raise ValueError(
                "KOPPELKANS_SMTP_URL must start with smtp://, smtp+starttls:// or smtps:// "
                "(e.g. smtp+starttls://user:password@mail.example.org:587), or be empty for the outbox folder"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_without_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("model_cache_dir", mode="before")
    @classmethod
    def _empty_cache_dir_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir if self.model_cache_dir is not None else self.data_dir / "models"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "Settings":
        if self.environment == "production" and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError(
                "KOPPELKANS_SECRET_KEY is still the placeholder: set it to a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self

    @model_validator(mode="after")
    def _pgvector_needs_postgresql(self) -> "Settings":
        if self.vector_store == "pgvector" and not self.resolved_database_url.startswith("postgresql"):
            raise ValueError(
                "KOPPELKANS_VECTOR_STORE=pgvector keeps vectors in PostgreSQL: set KOPPELKANS_DATABASE_URL "
                "to a PostgreSQL database (postgresql+psycopg://user:password@host:5432/name) or use "
                "KOPPELKANS_VECTOR_STORE=faiss"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'koppelkans.db').resolve()}"

    @property
    def proxy_options(self) -> dict[str, bool | str]:
        """uvicorn's options for forwarded headers: believed only from ``trusted_proxies``."""
        trusted = ",".join(part.strip() for part in self.trusted_proxies.split(",") if part.strip())
        if not trusted:
            return {"proxy_headers": False}
        return {"proxy_headers": True, "forwarded_allow_ips": trusted}

    @property
    def outbox_dir(self) -> Path:
        """Where messages are written as .eml files when no SMTP server is set."""
        return self.data_dir / "outbox"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
