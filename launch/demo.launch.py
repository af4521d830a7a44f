"""The embedded demo as a launch file: vla_sim + vla_node on sim time. Send instructions with

    ros2 run vla_ros vla_instruct "touch the red cube" --wait-ack

(`make demo` / `vla_demo` run the same two processes plus a scripted instruction sequence and report success.)
Parameters: config/default.yaml, then config/sim.yaml, then the arguments below
(vla_ros.ros.launch_support.demo_launch_plan).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from vla_ros.ros.launch_support import demo_launch_plan

ARGUMENTS = [
    ("model_path", "sim_act", "model package directory, or a name under share/vla_ros/models"),
    ("seed", "0", "first episode seed of the sim"),
]


def _actions(context) -> list:
    plan = demo_launch_plan(FindPackageShare("vla_ros").perform(context),
                            {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS})
    assert plan.sim is not None  # the demo always starts its sim
    return [SetEnvironmentVariable(name, value) for name, value in plan.environment.items()] + [
        Node(package="vla_ros", executable="vla_sim", name="vla_sim", output="screen",
             parameters=plan.sim.parameters, remappings=plan.sim.remappings),
        Node(package="vla_ros", executable="vla_node", name="vla_node", output="screen", emulate_tty=True,
             parameters=plan.vla_node.parameters, remappings=plan.vla_node.remappings),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [OpaqueFunction(function=_actions)]
    )
