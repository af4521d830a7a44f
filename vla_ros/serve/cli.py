"""`vla_serve MODEL_PATH`: serve a model package to robots over openpi's websocket protocol, on Ray Serve.

    vla_serve models/sim_act --replicas 2 --max-batch-size 8 --batch-wait-ms 5 --host 0.0.0.0 --port 8000
    vla_serve /models/pi0 --address ray://head:10001 --gpus-per-replica 1      # join an existing Ray cluster
    vla_serve models/sim_act --single-process                                  # one process, no Ray

Without --address it starts a local Ray instance and stops it on exit. SIGINT/SIGTERM: the application is
deleted (the whole local Serve instance shut down), Ray disconnected, exit status 0.
Exit status: 0 after a signal, 1 when it cannot start (bad package, unset key variable, Ray failure), 2 usage.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from pathlib import Path

from vla_ros.model import ModelPackageError, load_model_package
from vla_ros.serve.layout import request_layout
from vla_ros.serve.options import DEFAULT_MAX_REQUEST_BYTES, ServeOptions, ServeOptionsError
from vla_ros.serve.service import ServeConfigError, api_key_from_env

_LOG = logging.getLogger("vla_ros.serve")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vla_serve", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_path", help="the model package to serve (a directory with vla.yaml)")
    p.add_argument("--replicas", type=int, default=1, help="model replicas (Ray actors), each holding robots")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch-size", type=int, default=1, help="observations per model call (1 = no batching)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits to fill")
    p.add_argument("--address", default="", help="an existing Ray cluster (ray://host:10001 or auto)")
    p.add_argument("--gpus-per-replica", type=float, default=0.0)
    p.add_argument("--cpus-per-replica", type=float, default=1.0)
    p.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime", "torch"))
    p.add_argument("--request-layout", default="", help="a remote package whose remote: section gives the request "
                   "keys robots send (default: observation/image, observation/state, prompt)")
    p.add_argument("--api-key-env", default="", help="environment variable holding the API key every connection "
                   "must present (Authorization: Api-Key KEY)")
    p.add_argument("--certfile", default="", help="TLS certificate (PEM): serve wss:// and https://")
    p.add_argument("--keyfile", default="", help="TLS private key (PEM)")
    p.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES)
    p.add_argument("--single-process", action="store_true", help="no Ray: one model in this process, no batching")
    p.add_argument("--no-auth", action="store_true", help="allow a non-loopback --host without --api-key-env "
                   "(only on a network where every host may drive the robots)")
    return p


def _options(args: argparse.Namespace) -> ServeOptions:
    options = ServeOptions(model_path=str(Path(args.model_path).expanduser().resolve()), replicas=args.replicas,
                           max_batch_size=args.max_batch_size, batch_wait_ms=args.batch_wait_ms,
                           gpus_per_replica=args.gpus_per_replica, cpus_per_replica=args.cpus_per_replica,
                           backend=args.backend, request_layout=args.request_layout,
                           api_key_env=args.api_key_env, max_request_bytes=args.max_request_bytes)
    # What the replicas would fail on, said here at once rather than after Ray has retried them.
    package = load_model_package(options.model_path)
    if package.manifest.remote is not None:
        raise ModelPackageError(f"{options.model_path} is a remote package; vla_serve serves packages with weights")
    request_layout(package, options.request_layout)
    api_key_from_env(options.api_key_env)
    if bool(args.certfile) != bool(args.keyfile):
        raise ServeOptionsError("--certfile and --keyfile go together")
    if not options.api_key_env and not args.no_auth and not _is_loopback(args.host):
        raise ServeOptionsError(f"--host {args.host} opens the port beyond this machine without --api-key-env: "
                                "anyone who reaches it could send robots actions; set --api-key-env NAME, or "
                                "pass --no-auth on a network you trust")
    return options


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _run_single_process(options: ServeOptions, args: argparse.Namespace) -> int:
    from vla_ros.serve.direct import single_process_server

    server = single_process_server(options, args.host, args.port, args.certfile, args.keyfile)
    # uvicorn installs its own SIGINT/SIGTERM handlers and returns from run() after them.
    server.run()
    return 0


def _run_ray(options: ServeOptions, args: argparse.Namespace) -> int:
    import ray
    from ray import serve

    from vla_ros.serve.app import APP_NAME, build_app

    local = not args.address
    try:
        ray.init(address=args.address or None, include_dashboard=False, configure_logging=True,
                 logging_level=logging.WARNING)
    except ConnectionError as error:
        # Ray 2.60's `ray start` turns token authentication on; a driver without the token is refused with a
        # message about the GCS, not about the token.
        raise ServeConfigError(f"cannot join the Ray cluster at {args.address}: {error}. A cluster started with "
                               "`ray start` (Ray >= 2.60) wants its token: run vla_serve with RAY_AUTH_MODE=token "
                               "and the token in RAY_AUTH_TOKEN or ~/.ray/auth_token") from error
    stop = threading.Event()
    # After ray.init, which installs its own handlers (SIGTERM would otherwise abort the process); a signal
    # during the rest of start-up stops the server as soon as it is up.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        http = {"host": args.host, "port": args.port}
        if args.certfile:
            http.update(ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
        serve.start(http_options=http)
        serve.run(build_app(options.as_args()), name=APP_NAME, route_prefix="/", blocking=False)
        scheme = "wss" if args.certfile else "ws"
        batching = f"up to {options.max_batch_size}" if options.batching else "off"
        print(f"vla_serve: {Path(options.model_path).name} on {scheme}://{args.host}:{args.port} "
              f"({options.replicas} replica(s), batching {batching})", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        try:
            if local:
                serve.shutdown()
            else:
                serve.delete(APP_NAME)  # other applications on a shared cluster stay up
        finally:
            ray.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        options = _options(args)
    except (ModelPackageError, ServeOptionsError, ServeConfigError) as error:
        print(f"vla_serve: {error}", file=sys.stderr)
        return 1
    if args.single_process:
        if options.replicas != 1 or options.batching or args.address:
            print("vla_serve: --single-process serves one model without batching: drop --replicas, "
                  "--max-batch-size and --address", file=sys.stderr)
            return 2
        return _run_single_process(options, args)
    try:
        return _run_ray(options, args)
    except ServeConfigError as error:
        print(f"vla_serve: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
