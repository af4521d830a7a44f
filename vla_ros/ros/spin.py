"""How every vla_ros executable runs and stops: Ctrl-C and SIGTERM end it once, in order, with exit status 0.

A terminal's Ctrl-C reaches the whole process group; `ros2 launch` then sends its own SIGINT to each process a
few ms later, and SIGTERM after its sigterm_timeout. rclpy's own handlers shut the ROS context down at the first
signal, before a node could publish its last command, and Python's raise KeyboardInterrupt wherever the main
thread happens to be (inside an import, a model load, a finally block). So instead:

- `install_shutdown_signals` turns SIGINT and SIGTERM into one shutdown request; later signals are no-ops.
  The console scripts install it before their slow imports (`run_console_script`), so even a signal during
  `import torch` ends the process quietly.
- `spin_until_shutdown` spins the executor on a thread while the main thread waits for the request. Then it
  stops the executor, lets the callback that was running finish (a configure that loads the model, say), runs
  the executable's exit work while the ROS context is still up (vla_node's last hold command, vla_record's
  open episode), destroys the node and shuts rclpy down.

This module imports nothing slow at import time: the launchers import it before everything else.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rclpy.executors import Executor
    from rclpy.node import Node

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownRequest:
    """Set once, by the first SIGINT/SIGTERM or by `request`; what asked for it is kept for the log."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.signals_received = 0

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        # Event.wait without a timeout is interrupted by signals on POSIX, so the handler runs at once.
        return self._event.wait(timeout)

    def on_signal(self, signum: int, _frame: object) -> None:
        # Runs in the main thread between bytecodes: only set the flag (a repeated signal changes nothing).
        self.signals_received += 1
        self.request(signal.Signals(signum).name)


_REQUEST: ShutdownRequest | None = None


def install_shutdown_signals() -> ShutdownRequest:
    """SIGINT and SIGTERM → the process's one ShutdownRequest (installed once; main thread only)."""
    global _REQUEST
    if _REQUEST is None:
        _REQUEST = ShutdownRequest()
        for signum in SHUTDOWN_SIGNALS:
            signal.signal(signum, _REQUEST.on_signal)
    return _REQUEST


def shutdown_request() -> ShutdownRequest | None:
    """The installed request, or None when this process did not install the handlers (a library user)."""
    return _REQUEST


def init_rclpy(args: list[str] | None) -> None:
    """rclpy.init without rclpy's signal handlers (they would shut the context down under the exit work)."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    install_shutdown_signals()
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)


def run_console_script(load_main: Callable[[], Callable[[], int | None]]) -> int:
    """A console script: the shutdown signals first, then `load_main` (the slow imports), then main.

    A signal before main starts ends the process with 0 and no traceback."""
    request = install_shutdown_signals()
    try:
        main = load_main()
        if request.requested:
            return 0
        return int(main() or 0)
    except KeyboardInterrupt:  # only when some code restored Python's default SIGINT handler
        return 0


def spin_until_shutdown(node: Node, executor: Executor, on_exit: Callable[[], None] | None = None,
                        on_spin_thread: Callable[[], None] | None = None) -> int:
    """Spin until SIGINT, SIGTERM or an external shutdown; then stop the executor, run `on_exit` with the ROS
    context still up, destroy the node and shut rclpy down. `on_spin_thread` runs first on the executor's
    thread (its scheduling priority, say). Returns 0; an exception from a callback is raised again after the
    clean-up (as it would have left executor.spin before)."""
    import rclpy

    request = install_shutdown_signals()
    failure: list[BaseException] = []

    def spin() -> None:
        from rclpy.executors import ExternalShutdownException, ShutdownException

        try:
            if on_spin_thread is not None:
                on_spin_thread()
            executor.spin()
        except (ExternalShutdownException, ShutdownException):
            pass
        except BaseException as error:  # a callback raised: end the process as a main-thread spin would
            failure.append(error)
        finally:
            request.request("the executor stopped")

    executor.add_node(node)
    spinner = threading.Thread(target=spin, name="vla_executor", daemon=True)
    if not request.requested:
        spinner.start()
    try:
        while not request.wait():
            pass
        executor.shutdown(timeout_sec=0.0)
        if spinner.is_alive():
            node.get_logger().info(f"shutting down ({request.reason}): waiting for the running callback")
            spinner.join()
        if on_exit is not None:
            on_exit()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if failure:
        raise failure[0]
    return 0


def _load_node_main() -> Callable[[], int | None]:
    from vla_ros.ros.node import main

    return main


def vla_node() -> int:
    """The `vla_node` console script: the signal handling above is in place before the slow imports."""
    return run_console_script(_load_node_main)
