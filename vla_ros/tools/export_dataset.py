"""`vla_export_dataset`: part of recording and replay (issue 7), not implemented yet.

It exits with a clear message instead of being absent, so `ros2 run vla_ros vla_export_dataset` explains itself.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("vla_export_dataset: recording/replay is not implemented yet "
          "(planned: rosbag2 episodes, deterministic replay, LeRobot export)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
