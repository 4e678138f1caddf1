"""`make run`: Azurite plus the app, supervised together; Ctrl-C stops both.

The app is started with `func start` when Azure Functions Core Tools are on
PATH, otherwise with the project's local host. Azurite keeps its data under
.azurite/ and uses its usual ports when they are free.
"""

import os
import shutil
import sys

from honcho.manager import Manager
from honcho.printer import Printer

from core.errors import SettingsError
from core.settings import Settings
from local_host.azurite import (
    PROJECT_ROOT,
    azurite_command,
    choose_ports,
    connection_string,
    port_is_free,
)
from local_host.settings_file import apply_local_settings


def preflight(port: str) -> str | None:
    """Why the service cannot start, found before anything is started."""
    if not port.isdigit() or not 0 < int(port) < 65_536:
        return f"PORT={port!r} is not a port number"
    if not port_is_free(int(port)):
        return (
            f"port {port} is already in use (another `make run`?); "
            "stop it, or choose another port: PORT=8080 make run"
        )
    environ = dict(os.environ)
    apply_local_settings(PROJECT_ROOT / "local.settings.json", environ)
    try:
        Settings.from_environ(environ)
    except SettingsError as exc:
        return f"{exc} (set in the environment or local.settings.json)"

    return None


def main() -> int:
    port = os.environ.get("PORT", "7071")
    if problem := preflight(port):
        print(f"DataManager cannot start: {problem}", file=sys.stderr)
        return 2

    ports = choose_ports(prefer_defaults=True)
    data = PROJECT_ROOT / ".azurite"
    data.mkdir(exist_ok=True)

    storage = connection_string(ports)
    env = {**os.environ, "AzureWebJobsStorage": os.environ.get("AzureWebJobsStorage", storage)}

    if shutil.which("func"):
        app_command = f"func start --port {port}"
        host = "Azure Functions Core Tools"
    else:
        app_command = f"{sys.executable} -m local_host --port {port}"
        host = "the local host, as Core Tools are not on PATH; function keys are not enforced"

    print(f"DataManager: http://127.0.0.1:{port}/api  (served by {host})", flush=True)
    print(f"Azurite: table port {ports[2]}, data in {data}", flush=True)

    manager = Manager(Printer(sys.stdout))
    manager.add_process(
        "azurite", " ".join(azurite_command(data, ports)), env=env, cwd=str(PROJECT_ROOT)
    )
    manager.add_process("app", app_command, env=env, cwd=str(PROJECT_ROOT))
    manager.loop()

    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
