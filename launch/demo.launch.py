"""The embedded demo as a launch file: vla_sim + vla_node on sim time. Send instructions with

    ros2 run vla_ros vla_instruct "touch the red cube" --wait-ack

(`make demo` / `vla_demo` run the same two processes plus a scripted instruction sequence and report success.)
"""

from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("vla_ros")
    sim_params = PathJoinSubstitution([share, "config", "sim.yaml"])
    return LaunchDescription([
        DeclareLaunchArgument("model_path", default_value="sim_act",
                              description="model package directory, or a name under share/vla_ros/models"),
        DeclareLaunchArgument("seed", default_value="0", description="first episode seed of the sim"),
        SetEnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"),
        Node(package="vla_ros", executable="vla_sim", name="vla_sim", output="screen",
             parameters=[sim_params, {"seed": LaunchConfiguration("seed")}]),
        Node(package="vla_ros", executable="vla_node", name="vla_node", output="screen", emulate_tty=True,
             parameters=[PathJoinSubstitution([share, "config", "default.yaml"]), sim_params,
                         {"model_path": LaunchConfiguration("model_path"), "use_sim_time": True}]),
    ])
