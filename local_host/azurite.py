"""Start and stop Azurite from node_modules, on loopback ports of our choosing."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's documented development account; not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORTS = (10000, 10001, 10002)
START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Azurite:
    process: subprocess.Popen[bytes]
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        return connection_string((self.blob_port, self.queue_port, self.table_port))


def connection_string(ports: tuple[int, int, int]) -> str:
    """A full connection string for Azurite listening on these ports."""
    blob, queue, table = ports
    return ";".join(
        [
            "DefaultEndpointsProtocol=http",
            f"AccountName={ACCOUNT}",
            f"AccountKey={ACCOUNT_KEY}",
            f"BlobEndpoint=http://127.0.0.1:{blob}/{ACCOUNT}",
            f"QueueEndpoint=http://127.0.0.1:{queue}/{ACCOUNT}",
            f"TableEndpoint=http://127.0.0.1:{table}/{ACCOUNT}",
        ]
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def choose_ports(prefer_defaults: bool) -> tuple[int, int, int]:
    """Azurite's usual ports when asked and free (UseDevelopmentStorage=true), else any."""
    if prefer_defaults and all(port_is_free(port) for port in DEFAULT_PORTS):
        return DEFAULT_PORTS
    return free_port(), free_port(), free_port()


def azurite_command(location: Path | None, ports: tuple[int, int, int]) -> list[str]:
    if not AZURITE_BIN.exists():
        raise FileNotFoundError(f"{AZURITE_BIN} is missing; run `npm ci` (make does it)")
    blob, queue, table = ports
    command = [
        str(AZURITE_BIN),
        "--silent",
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
        "--blobHost", "127.0.0.1", "--blobPort", str(blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(table),
    ]  # fmt: skip
    if location is None:
        command.append("--inMemoryPersistence")
    else:
        command += ["--location", str(location)]

    return command


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start_azurite(location: Path | None, ports: tuple[int, int, int]) -> subprocess.Popen[bytes]:
    """Azurite on these ports, once all three listen; in memory unless `location` is given."""
    process = subprocess.Popen(
        azurite_command(location, ports), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for port in ports:
            wait_for_port(port, START_TIMEOUT_SECONDS, process)
    except BaseException:
        stop_azurite(process)
        raise

    return process


def stop_azurite(process: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM, which makes Azurite save its data at once; SIGKILL if it lingers after that.

    Azurite can take seconds, even minutes, to close its servers gracefully.
    """
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_azurite(location: Path | None = None) -> Iterator[Azurite]:
    """Azurite on free loopback ports, in memory unless `location` is given."""
    ports = choose_ports(prefer_defaults=False)
    process = start_azurite(location, ports)
    try:
        yield Azurite(process, *ports)
    finally:
        stop_azurite(process)
