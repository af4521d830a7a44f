"""Which top-level Python modules come from ROS 2: one rule shared by the `ros` marker (test/conftest.py) and
the ROS-hiding import hook (without_ros/sitecustomize.py), so what the marker looks for is what the hook hides.
"""

from __future__ import annotations

# The client library, its middleware and type support, the ament index, launch, bags, tf and image bridges.
ROS_MODULES = frozenset({"rclpy", "rcl", "rpyutils", "ament_index_python", "launch", "launch_ros", "rosbag2_py",
                         "message_filters", "cv_bridge", "tf2_ros", "tf2_py"})
ROS_MODULE_PREFIXES = ("rcl_", "rmw", "rosidl", "launch_", "tf2_")
# Every message, service and interface package (std_msgs, std_srvs, builtin_interfaces, ...).
ROS_MODULE_SUFFIXES = ("_msgs", "_srvs", "_interfaces")


def is_ros_module(module_name: str) -> bool:
    """True for a ROS 2 module or any submodule of one (`rclpy.qos`, `sensor_msgs.msg`)."""
    top = module_name.partition(".")[0]
    return top in ROS_MODULES or top.startswith(ROS_MODULE_PREFIXES) or top.endswith(ROS_MODULE_SUFFIXES)
