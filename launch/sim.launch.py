"""vla_node against a simulator on sim time.

Gazebo (ros_gz_sim + gz_ros2_control + ros_gz_bridge started by your own launch file): the bridge publishes the
camera as /camera/image_raw and /clock, joint_state_broadcaster publishes /joint_states, and
joint_trajectory_controller (config/controllers/sim_controllers.yaml) takes our JointTrajectory:

    ros2 launch vla_ros sim.launch.py model_path:=<model> embedded_sim:=false

The embedded MuJoCo sim (vla_sim) publishes the same topics and types, so the same file starts it instead:

    ros2 launch vla_ros sim.launch.py model_path:=<model>
"""

from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = [
    ("model_path", "sim_act", "model package directory, or a name under share/vla_ros/models"),
    ("embedded_sim", "true", "start vla_sim (MuJoCo); false when Gazebo provides the robot"),
    ("camera_topic", "/camera/image_raw", "camera topic as bridged from the simulator"),
    ("seed", "0", "embedded sim: first episode seed"),
    ("fastdds_transport", "LARGE_DATA", "FASTDDS_BUILTIN_TRANSPORTS for large images"),
]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("vla_ros")
    sim_params = PathJoinSubstitution([share, "config", "sim.yaml"])
    sim = Node(
        package="vla_ros",
        executable="vla_sim",
        name="vla_sim",
        output="screen",
        parameters=[sim_params, {"seed": LaunchConfiguration("seed")}],
        condition=IfCondition(LaunchConfiguration("embedded_sim")),
    )
    node = Node(
        package="vla_ros",
        executable="vla_node",
        name="vla_node",
        output="screen",
        emulate_tty=True,
        parameters=[
            PathJoinSubstitution([share, "config", "default.yaml"]),
            sim_params,
            {
                "model_path": LaunchConfiguration("model_path"),
                "use_sim_time": True,
            },
        ],
        remappings=[("/camera/image_raw", LaunchConfiguration("camera_topic"))],
    )
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [SetEnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", LaunchConfiguration("fastdds_transport")), sim, node]
    )
