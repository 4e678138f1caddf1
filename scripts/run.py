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

from local_host.azurite import PROJECT_ROOT, azurite_command, choose_ports, connection_string


def main() -> int:
    ports = choose_ports(prefer_defaults=True)
    data = PROJECT_ROOT / ".azurite"
    data.mkdir(exist_ok=True)

    storage = connection_string(ports)
    env = {**os.environ, "AzureWebJobsStorage": os.environ.get("AzureWebJobsStorage", storage)}
    port = env.get("PORT", "7071")

    if shutil.which("func"):
        app_command = f"func start --port {port}"
        host = "Azure Functions Core Tools"
    else:
        app_command = f"{sys.executable} -m local_host --port {port}"
        host = "the local host (Core Tools not found; function keys are not enforced)"

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
