"""Domain errors: each one names what an operator needs to act (file key, row, columns)."""


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
