"""local.settings.json, applied the way Core Tools applies it."""

import json
import os
from collections.abc import MutableMapping
from pathlib import Path


def apply_local_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy the file's `Values` into the environment; existing variables win.

    Returns the names that were taken from the file.
    """
    environ = os.environ if environ is None else environ
    if not path.exists():
        return []

    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    taken = [name for name in values if name not in environ]
    for name in taken:
        environ[name] = str(values[name])

    return taken
