"""Settings from the environment (and a local `.env`), with secrets kept out of reprs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/tracksolid_db"


def load_dotenv(path: Path = Path(".env")) -> None:
    """Fill unset variables from a KEY=VALUE file; the real environment always wins."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


@dataclass(frozen=True)
class Settings:
    database_url: str
    s3_endpoint_url: str | None
    s3_bucket: str
    s3_region: str
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    geocoder_provider: str = "offline"
    stale_after_minutes: int = 60  # 0 disables the freshness check

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv(Path(os.environ.get("FLEETTICKETS_ENV_FILE", ".env")))
        env = os.environ.get
        return cls(
            database_url=env("DATABASE_URL") or DEFAULT_DATABASE_URL,
            s3_endpoint_url=env("RUSTFS_ENDPOINT_URL") or None,
            s3_bucket=env("RUSTFS_BUCKET") or "isptickets",
            s3_region=env("RUSTFS_REGION") or "us-east-1",
            s3_access_key=env("RUSTFS_ACCESS_KEY") or None,
            s3_secret_key=env("RUSTFS_SECRET_KEY") or None,
            geocoder_provider=env("GEOCODER_PROVIDER") or "offline",
            stale_after_minutes=int(env("FLEETTICKETS_STALE_AFTER_MINUTES") or 60),
        )
