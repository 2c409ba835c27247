"""Server settings, read from ``CARNET_*`` environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import argon2
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the server reads from its environment, typed and defaulted."""

    model_config = SettingsConfigDict(env_prefix="CARNET_", extra="ignore")

    data_dir: Path = Path(".carnet-data")
    database_url: str | None = None
    # PostgreSQL only: the schema to work in (set as the connection's search_path).
    database_schema: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    timezone: str = "America/Mexico_City"
    # The interactive API docs (/docs, /redoc): off unless CARNET_DOCS=1 (development, the demo).
    docs: bool = False
    # uvicorn's access log (one line per request, its path redacted: logs.py): off unless CARNET_ACCESS_LOG=1.
    # A deployment behind a reverse proxy has the proxy's; writing each line here cost a third of the
    # throughput of a small read (bench/RESULTS.md, #20).
    access_log: bool = False

    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=30, ge=1)
    qr_ttl_days: int = Field(default=30, ge=1)
    qr_reissue_days: int = Field(default=7, ge=0)
    # Pharmacy counters refresh their offline trust bundle (keys, revoked QR tokens) this often.
    trust_max_age_seconds: int = Field(default=300, ge=10, le=86400)

    # Blood bank: bookings a child may hold on one local day, and how far ahead slots open.
    blood_bank_daily_limit: int = Field(default=6, ge=1)
    blood_bank_days_ahead: int = Field(default=60, ge=1)

    # Chemotherapy plan (chemotherapy/): the lifetime anthracycline total (mg/m² of doxorubicin equivalents) at
    # which a new cycle warns; a weight older than this many days, or changed by more than this percent since the
    # last cycle, must be confirmed by the prescriber.
    chemo_anthracycline_warning_mg_m2: float = Field(default=300.0, gt=0)
    chemo_measurement_max_age_days: int = Field(default=7, ge=0)
    chemo_weight_change_percent: float = Field(default=10.0, gt=0)

    # Case desk: first-response deadline overrides in hours per incident category, e.g.
    # CARNET_INCIDENT_DEADLINE_HOURS='{"medicamento": 2}' (see incidents/deadlines.py for the defaults).
    incident_deadline_hours: dict[str, float] = Field(default_factory=dict)
    incident_photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    incident_max_photos: int = Field(default=3, ge=0)

    # Mixing orders (mixing/): the central mixing provider's base URL (unset: orders wait as "pendiente"),
    # its name, the HMAC secret shared with it (unset: made once in the data dir), the delivery
    # queue's backoff (base * 2^attempts, capped, with jitter), poll interval, lease and HTTP timeout,
    # and how far a signed callback's timestamp may be from our clock.
    mixing_provider_url: str | None = None
    mixing_provider_name: str = Field(default="SAFE", min_length=1, max_length=32)
    mixing_secret: SecretStr | None = None
    mixing_retry_base_seconds: float = Field(default=5.0, gt=0)
    mixing_retry_max_seconds: float = Field(default=900.0, gt=0)
    #: Backoff after a 4xx other than 409 (the provider refuses the order as sent): a person must look.
    mixing_refused_retry_seconds: float = Field(default=3600.0, gt=0)
    mixing_poll_seconds: float = Field(default=5.0, gt=0)
    mixing_lease_seconds: float = Field(default=60.0, gt=0)
    mixing_timeout_seconds: float = Field(default=10.0, gt=0)
    mixing_callback_max_skew_seconds: int = Field(default=300, ge=1)

    # WhatsApp channel (whatsapp/): the Cloud API app secret (X-Hub-Signature-256 of every webhook; unset: the
    # webhook refuses every POST), the verify token of Meta's subscription handshake, the provider's base URL
    # (unset: answers wait in the durable queue), the business number's id and access token, the number as
    # families dial it (shown in the app), the queue's backoff, per-number limit and the link codes' life.
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_url: str | None = None
    whatsapp_phone_number_id: str = Field(default="", max_length=64)
    whatsapp_access_token: SecretStr | None = None
    whatsapp_bot_number: str = Field(default="", max_length=32)
    whatsapp_retry_base_seconds: float = Field(default=2.0, gt=0)
    whatsapp_retry_max_seconds: float = Field(default=600.0, gt=0)
    whatsapp_max_attempts: int = Field(default=12, ge=1)
    whatsapp_poll_seconds: float = Field(default=2.0, gt=0)
    whatsapp_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Messages one number may send per minute; beyond it they are not processed (one notice per minute).
    whatsapp_max_per_minute: int = Field(default=20, ge=1)
    whatsapp_link_code_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: Wrong link codes one number may send before further codes from it are refused, and for how long.
    whatsapp_link_max_failures: int = Field(default=5, ge=1)
    whatsapp_link_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: Days a processed inbound message's row (the sender's number, when) is kept; the worker deletes older ones.
    whatsapp_inbound_retention_days: int = Field(default=30, ge=1)
    #: Days a finished outbound message's row (the number it went to, when; its text is cleared once done) is kept.
    whatsapp_outbound_retention_days: int = Field(default=30, ge=1)
    #: How often the reminders pass runs (reminders/).
    reminders_every_seconds: float = Field(default=60.0, gt=0)

    # The privacy notice versions (privacy/notices.py): a directory of <version>.toml files, the newest in
    # force (unset: the notices shipped in the package). Adding a file publishes a new version.
    privacy_notices_dir: Path | None = None

    # Reverse proxies whose X-Forwarded-For (and X-Forwarded-Proto) are believed: a comma-separated list of
    # addresses or networks, e.g. "10.0.0.5,192.168.10.0/24". Empty (the default): the headers are ignored and
    # the client is the connection's peer, so nobody can choose the address the login throttle counts.
    trusted_proxies: str = ""

    # Login throttle (auth/service.py): an account with login_max_per_username failures since its last login
    # within the window is locked (429, even for the right password); an address with login_max_per_address
    # failures within the window gets 429 for wrong credentials only, so families behind one address whose
    # credentials are right still log in.
    login_window_minutes: int = Field(default=15, ge=1)
    login_max_per_username: int = Field(default=5, ge=1)
    login_max_per_address: int = Field(default=20, ge=1)
    # Guardians' activation codes (enrolment/invitations.py): valid this long, once; wrong codes from one
    # address are throttled like logins (same window), at most this many.
    activation_code_hours: int = Field(default=72, ge=1, le=24 * 30)
    activation_max_per_address: int = Field(default=10, ge=1)

    # Request limits (limits.py): bodies larger than this are refused with 413 before they are read
    # (the incident photo route allows incident_photo_max_bytes plus multipart overhead instead).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Creation endpoints (appointments, bookings, incidents, photos, dispensations, cycle confirmations,
    # account closure requests) and the family's data export:
    # at most this many per user and route class in a sliding window, counted from the audit log
    # (shared by every worker process); beyond it 429 with Retry-After.
    write_rate_limit: int = Field(default=30, ge=1)
    write_rate_window_seconds: int = Field(default=60, ge=1, le=86400)
    # uvicorn (cli.py): idle keep-alive connections are closed after this many seconds, and beyond
    # max_connections concurrent connections new requests get 503 (unset: no limit).
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    # Slow clients: a request's line and headers must arrive within head_timeout_seconds of its first
    # byte (or of the connection opening), and its body within body_timeout_seconds of the first body
    # read; otherwise 408 request_timeout (http_protocol.py, limits.py).
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_connections: int | None = Field(default=None, ge=1)
    # Worker processes of `carnet-server` (each with its own database pool and mixing delivery worker).
    workers: int = Field(default=1, ge=1, le=64)
    # PostgreSQL connection pool per worker process: pool_size kept open, max_overflow more under load
    # (requests beyond both wait up to pool_timeout seconds). Size them so that
    # workers × (pool_size + max_overflow + 1) ≤ PostgreSQL max_connections − headroom (superuser slots,
    # migrations, psql, backups): 2 workers × (10 + 5 + 1) = 32 of the default 100. Keep pool_size at least the
    # request threads and the background workers: a connection past it is opened and closed again per use.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Threads that run the routes' blocking work, per worker process (anyio's limiter; its own default is 40). More
    # threads than a few per core only fight over the interpreter's lock: under wrk -c32 on 2 cores, 8 threads
    # answered the carnet 14 % faster than 40, and 4 threads 30 % (bench/RESULTS.md, #20). Safe with any number:
    # a request holds a pool connection only inside its thread (routes.py).
    request_threads: int = Field(default=8, ge=1, le=200)
    # How long a worker keeps a signed-in caller and a family's carnet in memory (memo.py): writes made on this
    # worker end them at once, another worker's (a session revoked, a dose changed) within this many seconds.
    # 0: no caches.
    cache_seconds: float = Field(default=5.0, ge=0, le=60)

    # argon2id cost: the library's defaults; only tests lower them.
    argon2_time_cost: int = Field(default=argon2.DEFAULT_TIME_COST, ge=1)
    argon2_memory_cost: int = Field(default=argon2.DEFAULT_MEMORY_COST, ge=8)
    argon2_parallelism: int = Field(default=argon2.DEFAULT_PARALLELISM, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {entry!r} is not an IP address or network") from None
        return ",".join(entries)

    @field_validator("incident_deadline_hours")
    @classmethod
    def _check_deadlines(cls, value: dict[str, float]) -> dict[str, float]:
        from carnet_contract.models import IncidentCategory

        known = {c.value for c in IncidentCategory}
        for key, hours in value.items():
            if key not in known:
                raise ValueError(f"unknown incident category {key!r}")
            if not 0 < hours <= 24 * 30:
                raise ValueError(f"deadline for {key!r} must be between 0 and 720 hours")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'carnet.db').resolve()}"

    @property
    def base_url(self) -> str:
        """The public base URL (no trailing slash): the QR's issuer and link base."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def access_secret_path(self) -> Path:
        return self.data_dir / "access-token.secret"

    @property
    def mixing_secret_path(self) -> Path:
        """Where the mixing provider's HMAC secret is made when ``CARNET_MIXING_SECRET`` is unset."""
        return self.data_dir / "mixing-provider.secret"
