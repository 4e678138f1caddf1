"""Shared fixtures: Azurite, a loopback receiver, the local host, storage."""

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from core.storage import Storage
from local_host.azurite import Azurite, running_azurite
from tests.support.local_host import LocalHost, running_local_host
from tests.support.receiver import Receiver


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with running_azurite() as instance:
        yield instance


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def local_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    log = tmp_path_factory.mktemp("local-host") / "local_host.log"
    with running_local_host(azurite.connection_string, str(log)) as host:
        yield host
    # Every end-to-end test ran against this host: none may have put a secret in its log.
    assert "whsec_" not in host.logs()


@pytest.fixture
def api(local_host: LocalHost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_host.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def storage(azurite: Azurite) -> AsyncIterator[Storage]:
    connected = await Storage.connect(azurite.connection_string)
    yield connected
    await connected.aclose()


@pytest.fixture
def tag() -> str:
    """A unique suffix, so tests sharing Azurite and the receiver never collide."""
    return uuid.uuid4().hex[:12]
