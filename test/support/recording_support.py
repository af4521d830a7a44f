"""Records short episodes through real ROS processes: vla_node (act_example) fed by the rig's RobotStub,
and recorder_node beside it. Used by the tests and to regenerate the small bag in test/data:

    python test/support/recording_support.py test/data/replay_act_example
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ros_harness import JOINTS, REPO_ROOT, NodeProcess, RobotStub, wait_until

MODEL = REPO_ROOT / "models" / "act_example"
INTERFACE = "joint_trajectory"


def node_params(model: Path = MODEL) -> dict[str, object]:
    return {
        "model_path": str(model),
        "backend": "onnxruntime",
        "command_interface": INTERFACE,
        "control_rate_hz": 50.0,
        "joint_names": JOINTS,
        "inference_threads": 1,
        "safety.image_timeout": 1.0,
        "safety.state_timeout": 0.5,
        "safety.inference_timeout": 3.0,
    }


def record_episodes(output_dir: Path, instructions: list[str], seconds_each: float,
                    camera_rate_hz: float = 10.0, sim_clock_start: float | None = None) -> list[Path]:
    """Run node + robot + recorder, give each instruction for `seconds_each` of RUNNING, stop the recorder;
    returns the finished episode folders. The camera image brightness changes with every frame so that the
    chunks differ from observation to observation. With `sim_clock_start` the robot owns /clock (as a
    simulator does) and the node and recorder run on sim time."""
    robot = RobotStub(INTERFACE, camera_rate_hz=camera_rate_hz, state_rate_hz=50.0, sim_clock_start=sim_clock_start)
    sim_time = {"use_sim_time": sim_clock_start is not None}
    node = NodeProcess({**node_params(), **sim_time})
    # Only the output folder: topics, model and configuration are taken from the running vla_node.
    recorder = NodeProcess({"output_dir": str(output_dir), **sim_time}, module="vla_ros.recording.node")
    try:
        robot.wait_for_node()
        robot.wait_for_status(lambda s: s.get("state") not in (None, "IDLE"), 60, "node active")
        # The recorder is ready once its subscriptions match the node's publishers.
        wait_until(lambda: robot.node.count_subscribers("/vla/action_chunk") > 0
                   and robot.node.count_subscribers("/vla/instruction") > 1, 30, "recorder subscriptions")
        wait_until(lambda: "parameters of vla_node" in recorder.log(), 30, "recorder fetched node parameters")
        for text in instructions:
            robot.instruct(text)
            robot.wait_for_status(lambda s, t=text: s.get("state") == "RUNNING" and s.get("instruction") == t,
                                  30, f"RUNNING {text!r}")
            end = time.monotonic() + seconds_each
            while time.monotonic() < end:  # the recording window (not a synchronisation wait)
                robot.image_value = int(60 + 120 * ((time.monotonic() * 3.0) % 1.0))
                time.sleep(0.02)
        robot.instruct("")  # stop: closes the last episode
        robot.wait_for_status(lambda s: s.get("instruction") == "", 30, "stopped")
    finally:
        recorder_code = recorder.stop()
        node.stop()
        robot.close()
    assert recorder_code == 0, recorder.log()
    episodes = sorted(p for p in output_dir.iterdir() if p.is_dir())
    return episodes


if __name__ == "__main__":
    import shutil
    import tempfile

    target = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as scratch:
        recorded = record_episodes(Path(scratch), ["pick up the red block"], 1.5)
        assert len(recorded) == 1, recorded
        shutil.copytree(recorded[0], target)
    print(target)
