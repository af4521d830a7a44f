"""Run vla_node on a physical robot.

    ros2 launch vla_ros vla.launch.py model_path:=/path/to/models/<name> config:=ur5e
    ros2 launch vla_ros vla.launch.py model_path:=... params_file:=/my/robot.yaml namespace:=arm \
        camera_topic:=/cam/image

Parameters come from config/default.yaml, then config/<config>.yaml, then params_file, then the arguments
below. An empty argument keeps what those files say. Interface, rate, joints and limits belong in the YAML.
A profile or params file that does not exist stops the launch, and so does an argument value that would not
work (vla_ros.ros.launch_support.vla_launch_plan, which turns these arguments into parameters and remaps).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from vla_ros.ros.launch_support import vla_launch_plan

ARGUMENTS = [
    ("model_path", "", "model package directory (holding vla.yaml), or a name under share/vla_ros/models; "
     "empty: the params files' model_path"),
    ("config", "default", "robot profile: config/<config>.yaml (default, ur5e, fr3, sim)"),
    ("params_file", "", "your robot's parameters YAML, applied over the profile"),
    ("namespace", "", "namespace of vla_node and vla_record; their relative topics (vla/instruction, "
     "vla/status, joint_states, ...) move under it"),
    ("backend", "", "auto | tensorrt | onnxruntime | torch | remote; empty: the params files' backend (auto)"),
    ("remote_url", "", "ws:// or wss:// URL of the policy server of a remote package (models/remote_droid, ...); "
     "empty: the package's own URL"),
    ("use_sim_time", "", "follow /clock (Gazebo, the embedded sim, bag replay); empty: the profile's "
     "use_sim_time (true for config:=sim)"),
    ("camera_topic", "", "camera topic, replacing the profile's camera topic (the camera keeps its name); "
     "NAME=TOPIC[,NAME=TOPIC] with several cameras; empty: the profile's"),
    ("joint_states_topic", "", "joint state topic; empty: joint_states under the namespace"),
    ("instruction_topic", "", "instruction topic; empty: vla/instruction under the namespace"),
    ("record", "false", "record episodes (rosbag2, one per instruction) with vla_record in its own process"),
    ("record_dir", "recordings", "where vla_record writes episodes"),
    ("fastdds_transport", "LARGE_DATA", "FASTDDS_BUILTIN_TRANSPORTS: LARGE_DATA moves 640x480 images in ~3 ms "
     "instead of ~14 ms on the default UDP transport; empty: as the environment has it"),
]


def _actions(context) -> list:
    plan = vla_launch_plan(FindPackageShare("vla_ros").perform(context),
                           {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS})
    actions = [SetEnvironmentVariable(name, value) for name, value in plan.environment.items()]
    actions.append(Node(package="vla_ros", executable="vla_node", name="vla_node", namespace=plan.namespace,
                        output="screen", emulate_tty=True, parameters=plan.vla_node.parameters,
                        remappings=plan.vla_node.remappings))
    if plan.recorder is not None:
        actions.append(Node(package="vla_ros", executable="vla_record", name="vla_recorder",
                            namespace=plan.namespace, output="screen", parameters=plan.recorder.parameters,
                            remappings=plan.recorder.remappings))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [OpaqueFunction(function=_actions)]
    )
