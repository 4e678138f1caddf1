"""Structured log events: a stable event name plus key=value fields.

The message itself carries the fields, because the Functions host forwards only
the rendered message; `extra` keeps them machine-readable for other handlers.
"""

import logging
from typing import Any
from urllib.parse import urlsplit


class _Fields:
    """Renders fields lazily, only when a handler formats the record."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return " ".join(f"{key}={_render(value)}" for key, value in self.fields.items())


def _render(value: Any) -> str:
    text = str(value)
    if text == "" or any(char.isspace() or char in '"=' for char in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log `event` (a stable dotted name) with its fields."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s %s", event, _Fields(fields), extra={"event": event, "fields": fields})


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment, which may carry tokens."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        # Read inside the try: a port out of range or not a number raises.
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"

    return f"{parts.scheme}://{host}{port}{parts.path}"
