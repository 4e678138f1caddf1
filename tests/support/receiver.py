"""A real webhook receiver on loopback, scripted by the path it is called on.

It runs its own event loop in a thread, so sync tests, async tests and
subprocesses (the local host) can all send to it.

Paths:
  /ok/<tag>                 200
  /status/<code>/<tag>      always <code>
  /fail/<n>/<tag>           500 for the first <n> calls, then 200
  /retry-after/<s>/<tag>    429 with Retry-After: <s> once, then 200
  /redirect/<tag>           302 to http://169.254.169.254/
  /hang/<tag>               never answers
  /slow/<ms>/<tag>          200 after <ms> milliseconds
The drip server (`drip_url`) sends its status line one byte per second.
"""

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from local_host.azurite import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.drip_port = free_port()
        self._received: list[Received] = []
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping = asyncio.Event()
        self._thread = threading.Thread(target=self._serve, name="receiver", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    @property
    def drip_url(self) -> str:
        return f"http://127.0.0.1:{self.drip_port}/drip"

    def start(self) -> "Receiver":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == "/" + path.lstrip("/")]

    def wait_for(self, path: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """Block until `path` has been called `count` times; returns those calls."""
        self.wait_until(lambda: len(self.received(path)) >= count, timeout)
        return self.received(path)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.02)
        raise TimeoutError("the receiver did not see what was expected in time")

    def _serve(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        dripper = await asyncio.start_server(self._drip, "127.0.0.1", self.drip_port)
        self._ready.set()

        await self._stopping.wait()
        dripper.close()
        await runner.cleanup()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        with self._lock:
            self._received.append(Received(path, dict(request.headers), body, time.monotonic()))
            self._calls[path] += 1
            calls = self._calls[path]

        return await self._answer(path.strip("/").split("/"), calls)

    @staticmethod
    async def _answer(parts: list[str], calls: int) -> web.Response:
        kind = parts[0]
        if kind == "status":
            return web.Response(status=int(parts[1]))
        if kind == "fail":
            return web.Response(status=500 if calls <= int(parts[1]) else 200)
        if kind == "retry-after":
            if calls == 1:
                return web.Response(status=429, headers={"Retry-After": parts[1]})
            return web.Response(status=200)
        if kind == "redirect":
            return web.Response(status=302, headers={"Location": "http://169.254.169.254/"})
        if kind == "hang":
            await asyncio.sleep(3600)
        if kind == "slow":
            await asyncio.sleep(int(parts[1]) / 1000)

        return web.Response(status=200, text="ok")

    async def _drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1)
        except ConnectionError:
            pass
        finally:
            writer.close()
