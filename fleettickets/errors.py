"""Domain errors: each one names what an operator needs to act (file key, row, columns)."""

import psycopg


class FleetTicketsError(Exception):
    """Base for errors the CLI turns into one clean message and a non-zero exit."""


class ChangeFileError(FleetTicketsError):
    """A change file that cannot be loaded; the dataset's stream stops at it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class SchemaDriftError(ChangeFileError):
    def __init__(self, key: str, missing: list[str], unknown: list[str]) -> None:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        super().__init__(key, "schema drift (" + "; ".join(parts) + ")")
        self.missing = missing
        self.unknown = unknown


class UnreadableFileError(ChangeFileError):
    pass


class MigrationError(FleetTicketsError):
    pass


class NotFoundError(FleetTicketsError):
    pass


class DatabaseConnectError(FleetTicketsError, psycopg.OperationalError):
    """No connection to the database; says what to fix, never shows the password.

    Still a psycopg.OperationalError, for callers that handle connection failures as such;
    `retryable` tells a refused or timed-out connection (may come back) from a wrong password,
    database or URL (never gets better).
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class StorageError(FleetTicketsError):
    """The bucket cannot be used as configured (missing bucket, refused credentials, bad endpoint).

    Names the bucket and the setting or block to fix, never a secret; `retryable` is False
    for what never gets better by waiting.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ArgumentError(FleetTicketsError):
    """An argument that names nothing (e.g. --from-key of no file of the stream): a usage error, exit 2."""
