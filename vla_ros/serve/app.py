"""The Ray Serve application: one deployment, N replicas, each a FastAPI websocket ingress around one model.

    build_app({"model_path": "/models/sim_act", "replicas": 2, "max_batch_size": 8, "batch_wait_ms": 5})

`build_app` is an application builder (Ray Serve's `import_path` + `args`): `vla_serve` calls it, and a KubeRay
RayService names it as `import_path: vla_ros.serve.app:build_app` with the same option names under `args:`
(vla_ros/serve/options.py). Ray routes each new websocket to a replica, restarts a replica that dies or fails
its health check, and `@serve.batch` collects the observations that reach one replica within batch_wait_ms into
one model call. Per-model metrics (Ray's metrics, exported with the rest of Ray Serve's): the latency of each
batched call and the batch sizes formed; each batch is also logged at DEBUG.
"""

# No `from __future__ import annotations` here: Ray's ingress rebuilds the route methods' signatures elsewhere,
# where FastAPI could not resolve the string annotation "WebSocket" and would refuse every connection (1008).
import logging
import os

from fastapi import FastAPI, WebSocket
from fastapi.responses import PlainTextResponse
from ray import serve
from ray.serve import metrics
from ray.serve.deployment import Application

from vla_ros.serve.model import BatchResult, ServedModel
from vla_ros.serve.options import ServeOptions
from vla_ros.serve.service import PolicyService

_LOG = logging.getLogger("vla_ros.serve")

APP_NAME = "vla_serve"
DEPLOYMENT_NAME = "vla_policy"
LATENCY_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64]

ingress = FastAPI(title="vla_serve", docs_url=None, redoc_url=None, openapi_url=None)


class _BatchMetrics:
    def __init__(self, model_name: str) -> None:
        self.tags = {"model": model_name}
        self.latency = metrics.Histogram("vla_serve_model_latency_ms", description="one batched model call, "
                                         "preprocessing and decoding included", boundaries=LATENCY_BOUNDARIES_MS,
                                         tag_keys=("model",))
        self.batch_size = metrics.Histogram("vla_serve_batch_size", description="observations per model call",
                                            boundaries=BATCH_SIZE_BOUNDARIES, tag_keys=("model",))

    def __call__(self, result: BatchResult) -> None:
        self.latency.observe(result.infer_ms, tags=self.tags)
        self.batch_size.observe(result.batch_size, tags=self.tags)
        _LOG.debug("batch of %d in %.2f ms", result.batch_size, result.infer_ms)


@serve.deployment(name=DEPLOYMENT_NAME, health_check_period_s=2.0, health_check_timeout_s=10.0,
                  graceful_shutdown_timeout_s=2.0)
@serve.ingress(ingress)
class PolicyDeployment:
    def __init__(self, args: dict) -> None:
        options = ServeOptions.from_args(args)
        model = ServedModel(options)
        # replica_pid: a robot can tell which process answered (tests kill one to see the fleet recover).
        self.service = PolicyService(model, options, on_batch=_BatchMetrics(model.package.name),
                                     extra_metadata={"replica_pid": os.getpid()})
        if options.batching:
            self.service.batched = serve.batch(max_batch_size=options.max_batch_size,
                                               batch_wait_timeout_s=options.batch_wait_ms / 1e3)(
                self.service.run_batch)

    @ingress.get("/healthz")
    def healthz(self) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @ingress.websocket("/")
    async def policy(self, websocket: WebSocket) -> None:
        await self.service.serve_connection(websocket)


def build_app(args: dict) -> Application:
    """The application for `args` (ServeOptions' fields): replicas, their CPUs/GPUs, how many robots each holds."""
    options = ServeOptions.from_args(dict(args))
    deployment = PolicyDeployment.options(
        num_replicas=options.replicas, max_ongoing_requests=options.max_robots_per_replica,
        ray_actor_options={"num_cpus": options.cpus_per_replica, "num_gpus": options.gpus_per_replica})
    return deployment.bind(options.as_args())
