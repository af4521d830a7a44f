"""Start a vla_ros child process at normal scheduling, whatever the scheduling of the thread that starts it.

    subprocess.Popen(child_command("vla_ros.model.inference_worker", str(fd)), pass_fds=(fd,))
    # runs: python -m vla_ros.execution.child_process vla_ros.model.inference_worker FD

vla_node starts its children (the model, the cameras) from SCHED_FIFO threads, and a child inherits that
policy. So would every thread the child creates while importing (numpy's BLAS pool, for one): a real-time
thread pool doing the model's work would starve everything else on the machine. This module resets the
policy first, before anything is imported, then runs the child's module as __main__. A child that wants a
real-time thread raises it itself, for that thread only.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection


def child_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "vla_ros.execution.child_process", module, *args]


def wait_or_kill(process: subprocess.Popen, timeout_s: float) -> int:
    """The child's exit code, after `timeout_s` for it to exit on its own (its socket closed), else SIGKILL."""
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def serve_inherited_socket(argv: list[str], usage: str, serve: Callable[[Connection], int | None]) -> int:
    """A child's main: `argv` is [FD], the socket its parent passed; serve on it, close it whatever happens."""
    if len(argv) != 1 or not argv[0].isdigit():
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    connection = Connection(int(argv[0]))
    try:
        return serve(connection) or 0
    finally:
        connection.close()


def _normal_scheduling() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        pass  # not Linux: nothing real-time was inherited either


def main() -> None:
    # The parent ends its children (it closes their socket). A terminal's Ctrl-C reaches the whole process
    # group: it must not end a child mid-work, with a traceback, while the parent still shuts down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _normal_scheduling()
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m vla_ros.execution.child_process MODULE [ARG ...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except BrokenPipeError:
        sys.exit(0)  # the parent closed the socket while this child started: it shuts down, and so does the child


if __name__ == "__main__":
    main()
