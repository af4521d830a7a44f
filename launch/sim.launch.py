"""vla_node against a simulator on sim time.

Gazebo (ros_gz_sim + gz_ros2_control + ros_gz_bridge started by your own launch file): the bridge publishes the
camera as /camera/image_raw (or camera_topic:=...) and /clock, joint_state_broadcaster publishes /joint_states,
and joint_trajectory_controller (config/controllers/sim_controllers.yaml) takes our JointTrajectory:

    ros2 launch vla_ros sim.launch.py model_path:=<model> embedded_sim:=false

The embedded MuJoCo sim (vla_sim) publishes the same topics and types, so the same file starts it instead:

    ros2 launch vla_ros sim.launch.py model_path:=<model>

Parameters: config/default.yaml, then config/sim.yaml, then the arguments below
(vla_ros.ros.launch_support.sim_launch_plan).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from vla_ros.ros.launch_support import sim_launch_plan

ARGUMENTS = [
    ("model_path", "sim_act", "model package directory, or a name under share/vla_ros/models"),
    ("embedded_sim", "true", "start vla_sim (MuJoCo); false when Gazebo provides the robot"),
    ("camera_topic", "", "camera topic as bridged from the simulator (the embedded sim publishes on it too); "
     "empty: config/sim.yaml's /camera/image_raw"),
    ("seed", "0", "embedded sim: first episode seed"),
    ("fastdds_transport", "LARGE_DATA", "FASTDDS_BUILTIN_TRANSPORTS for large images; empty: as the environment "
     "has it"),
]


def _actions(context) -> list:
    plan = sim_launch_plan(FindPackageShare("vla_ros").perform(context),
                           {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS})
    actions = [SetEnvironmentVariable(name, value) for name, value in plan.environment.items()]
    if plan.sim is not None:
        actions.append(Node(package="vla_ros", executable="vla_sim", name="vla_sim", output="screen",
                            parameters=plan.sim.parameters, remappings=plan.sim.remappings))
    actions.append(Node(package="vla_ros", executable="vla_node", name="vla_node", namespace=plan.namespace,
                        output="screen", emulate_tty=True, parameters=plan.vla_node.parameters,
                        remappings=plan.vla_node.remappings))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [OpaqueFunction(function=_actions)]
    )
