"""The same service in one process, without Ray: one model, no batching, no replicas (`vla_serve --single-process`).

It is the baseline `vla_bench fleet` measures the Ray Serve path against, and what a single robot next to a GPU box
needs. TLS straight from uvicorn (--certfile/--keyfile).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.responses import PlainTextResponse

from vla_ros.serve.model import ServedModel
from vla_ros.serve.options import ServeOptions
from vla_ros.serve.service import PolicyService


def create_app(service: PolicyService) -> FastAPI:
    app = FastAPI(title="vla_serve", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.websocket("/")
    async def policy(websocket: WebSocket) -> None:
        await service.serve_connection(websocket)

    return app


def single_process_server(options: ServeOptions, host: str, port: int, certfile: str = "",
                          keyfile: str = "") -> uvicorn.Server:
    """A uvicorn server (not started: .run() blocks, .should_exit stops it) serving options.model_path."""
    service = PolicyService(ServedModel(options), options)
    # uvicorn's own frame limit sits above ours, so an oversize request gets our text frame, not a bare close.
    config = uvicorn.Config(create_app(service), host=host, port=port, log_level="warning", ws="websockets-sansio",
                            ws_max_size=2 * options.max_request_bytes, ws_per_message_deflate=False,
                            ssl_certfile=certfile or None, ssl_keyfile=keyfile or None, lifespan="off")
    return uvicorn.Server(config)
