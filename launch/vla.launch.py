"""Run vla_node on a physical robot.

    ros2 launch vla_ros vla.launch.py model_path:=/path/to/models/<name> config:=ur5e
    ros2 launch vla_ros vla.launch.py model_path:=... params_file:=/my/robot.yaml namespace:=arm \
        camera_topic:=/cam/image

Parameters come from config/default.yaml, then config/<config>.yaml (or params_file instead), then model_path,
backend and use_sim_time from the arguments below (use_sim_time defaults to true for config:=sim only).
Interface, rate, joints and limits belong in the YAML. A params file that does not exist stops the launch.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from vla_ros.ros.launch_support import require_params_file

ARGUMENTS = [
    ("model_path", "", "model package directory (holding vla.yaml), or a name under share/vla_ros/models"),
    ("config", "default", "robot profile: config/<config>.yaml (default, ur5e, fr3, sim)"),
    ("namespace", "", "namespace of vla_node"),
    ("backend", "auto", "auto | tensorrt | onnxruntime | torch"),
    ("camera_topic", "/camera/image_raw", "remap of the camera topic"),
    ("joint_states_topic", "/joint_states", "remap of the joint state topic"),
    ("instruction_topic", "/vla/instruction", "remap of the instruction topic"),
    ("record", "false", "record episodes (rosbag2, one per instruction) with vla_record in its own process"),
    ("record_dir", "recordings", "where vla_record writes episodes"),
    ("fastdds_transport", "LARGE_DATA", "FASTDDS_BUILTIN_TRANSPORTS: LARGE_DATA moves 640x480 images in ~3 ms "
     "instead of ~14 ms on the default UDP transport"),
]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("vla_ros")
    # A list of substitutions is concatenated; PathJoinSubstitution items must each be a str or a substitution.
    profile = [PathJoinSubstitution([share, "config", LaunchConfiguration("config")]), ".yaml"]
    remappings = [
        ("/camera/image_raw", LaunchConfiguration("camera_topic")),
        # Relative, like the node's own names, so the rules still match under namespace:=...
        ("joint_states", LaunchConfiguration("joint_states_topic")),
        ("vla/instruction", LaunchConfiguration("instruction_topic")),
    ]
    node = Node(
        package="vla_ros",
        executable="vla_node",
        name="vla_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            PathJoinSubstitution([share, "config", "default.yaml"]),
            LaunchConfiguration("params_file"),
            {
                "model_path": LaunchConfiguration("model_path"),
                "backend": LaunchConfiguration("backend"),
                "use_sim_time": LaunchConfiguration("use_sim_time"),
            },
        ],
        remappings=remappings,
    )
    # The recorder reads vla_node's live parameters (cameras, command topic, model) itself: no params file.
    recorder = Node(
        package="vla_ros",
        executable="vla_record",
        name="vla_recorder",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[{"output_dir": LaunchConfiguration("record_dir"),
                     "use_sim_time": LaunchConfiguration("use_sim_time")}],
        remappings=remappings,
        condition=IfCondition(LaunchConfiguration("record")),
    )
    # The sim profile runs on /clock; every other profile on wall time unless use_sim_time:= says otherwise.
    use_sim_time = DeclareLaunchArgument(
        "use_sim_time", default_value=PythonExpression(["'", LaunchConfiguration("config"), "' == 'sim'"]),
        description="follow /clock (Gazebo, the embedded sim, bag replay); default: true for config:=sim")
    params_file = DeclareLaunchArgument("params_file", default_value=profile,
                                        description="your robot's parameters YAML, used instead of the profile")
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS]
        + [
            use_sim_time,
            params_file,
            OpaqueFunction(function=lambda context: require_params_file(
                LaunchConfiguration("params_file").perform(context)) or []),
            SetEnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", LaunchConfiguration("fastdds_transport")),
            node,
            recorder,
        ]
    )
