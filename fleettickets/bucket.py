"""The bucket a command or task works in, and its errors said so that an operator can act.

A `Bucket` carries a boto3 client, the bucket's name and *where* each part of its
configuration comes from (a variable, or a block when the Prefect layer read one), so that
"the endpoint refused the secret key" can name what to fix, never the key itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from fleettickets.config import Settings
from fleettickets.errors import StorageError

ENV_CREDENTIALS = "RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY"

# Answers that waiting never changes: retrying them only delays the message.
_MISSING_BUCKET = {"NoSuchBucket"}
_BAD_KEY = {"InvalidAccessKeyId"}
_BAD_SECRET = {"SignatureDoesNotMatch"}
_DENIED = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
_NEVER_BETTER = {"InvalidBucketName", "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken",
                 "InvalidRequest", "NoSuchKey"}


@dataclass(frozen=True)
class Bucket:
    name: str
    client: Any = field(repr=False, compare=False)
    endpoint: str | None = None
    bucket_origin: str = "RUSTFS_BUCKET"
    credentials_origin: str = ENV_CREDENTIALS
    endpoint_origin: str = "RUSTFS_ENDPOINT_URL"

    @classmethod
    def from_settings(cls, settings: Settings) -> Bucket:
        from fleettickets.storage import make_s3_client

        return cls(settings.s3_bucket, make_s3_client(settings), settings.s3_endpoint_url)

    @property
    def where(self) -> str:
        return display_endpoint(self.endpoint)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the S3 errors an operator must fix into one `StorageError` naming the setting."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            error = self.explain(exc)
            if error is None:
                raise
            raise error from None

    def explain(self, exc: BaseException) -> StorageError | None:
        """A clear `StorageError` for what the operator must fix, or None (a transient error, retried)."""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_BUCKET:
                return StorageError(f"bucket {self.name} does not exist at {self.where}: create it, or fix"
                                    f" {self.bucket_origin}", retryable=False)
            if code in _BAD_KEY:
                return StorageError(f"{self.where} does not know the access key of {self.credentials_origin}"
                                    f" ({code}): fix the credentials there", retryable=False)
            if code in _BAD_SECRET:
                return StorageError(f"{self.where} refused the secret key of {self.credentials_origin}"
                                    f" ({code}): fix the credentials there", retryable=False)
            if code in _DENIED:
                return StorageError(f"{self.where} denied {exc.operation_name} on bucket {self.name} ({code}):"
                                    f" grant the access key of {self.credentials_origin} list, get, put and"
                                    " delete on it, or fix the credentials", retryable=False)
            if code in _NEVER_BETTER:
                return StorageError(f"bucket {self.name} at {self.where}: {exc.operation_name} failed ({code})",
                                    retryable=False)
            return None  # 5xx, throttling: worth retrying
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StorageError(f"no S3 credentials: set {self.credentials_origin}", retryable=False)
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return StorageError(f"cannot reach the S3 endpoint {self.where}: is it running? (set by"
                                f" {self.endpoint_origin})", retryable=True)
        return None


def display_endpoint(endpoint: str | None) -> str:
    """The endpoint without any user:password part (AWS when none is set)."""
    if not endpoint:
        return "the default AWS S3 endpoint"
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
