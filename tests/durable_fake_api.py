"""A loopback stand-in for the Functions host's durable HTTP API, for the real SDK client.

The host hands every function with the durable client binding a JSON document
whose `rpcBaseUrl` points at its own HTTP API; `binding()` makes one pointing
here. Starts and status queries are recorded and answered as the host does:
202 with management links for a start, 409 when the instance already exists,
404 with an empty body for an unknown instance.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from local_host.azurite import free_port

TASK_HUB = "DataManager"
CREATED_TIME = "2026-01-05T09:00:00Z"


@dataclass
class StartRequest:
    orchestrator: str
    instance_id: str
    body: bytes

    @property
    def input(self) -> Any:
        # The SDK serializes the input itself and posts that text as a JSON string.
        return json.loads(json.loads(self.body))


@dataclass
class FakeDurableApi:
    port: int = field(default_factory=free_port)
    starts: list[StartRequest] = field(default_factory=list)
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Answer starts with this status instead (500: the host fails; 409: a racing start).
    start_answer: int | None = None
    _runner: web.AppRunner | None = None

    @property
    def rpc_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/durabletask/"

    def binding(self) -> str:
        """The client binding JSON as the host passes it to a function."""
        base = f"http://127.0.0.1:{self.port}/runtime/webhooks/durabletask"
        query = f"taskHub={TASK_HUB}&connection=Storage&code=key"
        status = f"{base}/instances/INSTANCEID?{query}"
        return json.dumps(
            {
                "taskHubName": TASK_HUB,
                "creationUrls": {
                    "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}?{query}",
                    "createAndWaitOnNewInstancePostUri": (
                        f"{base}/orchestrators/{{functionName}}?timeout={{timeoutInSeconds}}"
                    ),
                },
                "managementUrls": {
                    "id": "INSTANCEID",
                    "statusQueryGetUri": status,
                    "sendEventPostUri": f"{base}/instances/INSTANCEID/raiseEvent/{{eventName}}",
                    "terminatePostUri": f"{base}/instances/INSTANCEID/terminate?reason={{text}}",
                    "purgeHistoryDeleteUri": status,
                },
                "baseUrl": base,
                "requiredQueryStringParameters": "code=key",
                "rpcBaseUrl": self.rpc_base_url,
                "httpBaseUrl": "",
                "maxGrpcMessageSizeInBytes": 0,
                "grpcHttpClientTimeout": "00:01:40",
            }
        )

    def set_status(self, instance_id: str, runtime_status: str) -> None:
        self.instances.setdefault(instance_id, {"name": "", "input": None})
        self.instances[instance_id]["runtimeStatus"] = runtime_status

    async def start(self) -> "FakeDurableApi":
        app = web.Application()
        app.router.add_post("/durabletask/orchestrators/{name}/{instance}", self._start)
        app.router.add_get("/durabletask/instances/{instance}", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _start(self, request: web.Request) -> web.Response:
        name, instance_id = request.match_info["name"], request.match_info["instance"]
        started = StartRequest(name, instance_id, await request.read())
        self.starts.append(started)
        if self.start_answer == 500:
            return web.json_response({"Message": "Something went wrong"}, status=500)
        if self.start_answer == 409 or _running(self.instances.get(instance_id)):
            self.instances.setdefault(instance_id, {"name": name, "input": started.input})
            self.instances[instance_id].setdefault("runtimeStatus", "Running")
            message = f"An orchestration with instance ID '{instance_id}' already exists."
            return web.json_response({"Message": message}, status=409)

        self.instances[instance_id] = {
            "name": name,
            "input": started.input,
            "runtimeStatus": "Pending",
        }
        links = json.loads(self.binding())["managementUrls"]
        return web.json_response(
            {key: value.replace("INSTANCEID", instance_id) for key, value in links.items()},
            status=202,
        )

    async def _status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance"]
        found = self.instances.get(instance_id)
        if found is None:
            return web.Response(status=404)

        return web.json_response(
            {
                "name": found["name"],
                "instanceId": instance_id,
                "runtimeStatus": found["runtimeStatus"],
                "input": found["input"],
                "customStatus": None,
                "output": None,
                "createdTime": CREATED_TIME,
                "lastUpdatedTime": CREATED_TIME,
            },
            status=202 if _running(found) else 200,
        )


def _running(instance: dict[str, Any] | None) -> bool:
    return instance is not None and instance["runtimeStatus"] in ("Pending", "Running")
