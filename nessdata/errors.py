"""The exception tree. Every error nessdata raises on purpose is a NessdataError."""

from __future__ import annotations

from typing import Any


class NessdataError(Exception):
    """Root of the errors nessdata raises; the CLI and the web app render these."""

    exit_code = 1


class ConfigError(NessdataError):
    """A setting is missing or has a value nessdata cannot use."""


class SchemaError(NessdataError):
    """The database schema is not at the revision this code expects."""


class InvalidValue(NessdataError):
    """One input value is unusable; carries the field, the value and the reason."""

    def __init__(self, field: str, value: Any, reason: str, line: int | None = None):
        self.field = field
        self.value = value
        self.reason = reason
        self.line = line
        super().__init__(field, value, reason)

    def __str__(self) -> str:
        # The line is often known only after validation, so it is read late.
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}={_shorten(self.value)!s}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "value": _plain(self.value),
            "reason": self.reason,
        }


class RejectedInput(NessdataError):
    """A batch or a file had invalid rows, so nothing of it was stored."""

    def __init__(self, rejects: list[InvalidValue], source: str = "input"):
        self.rejects = rejects
        self.source = source
        shown = "\n".join(f"  {r}" for r in rejects[:20])
        more = f"\n  … and {len(rejects) - 20} more" if len(rejects) > 20 else ""
        super().__init__(
            f"{source}: {len(rejects)} invalid row(s), nothing was stored:\n"
            f"{shown}{more}"
        )


class NotFound(NessdataError):
    """A value that was asked for is not held (yet)."""


class JobBusy(NessdataError):
    """The same job is already running."""


class UpstreamError(NessdataError):
    """An outside service (BCB, Omie) failed or refused a request."""

    def __init__(self, message: str, *, status: int | None = None, source: str = ""):
        self.status = status
        self.source = source
        super().__init__(message)


def _shorten(value: Any, limit: int = 80) -> Any:
    text = repr(value)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def _plain(value: Any, limit: int = 200) -> Any:
    """The value as JSON can show it: simple values as they are, long text cut."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
