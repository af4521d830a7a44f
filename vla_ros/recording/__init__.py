"""Recording, reading back and exporting episodes. ROS-free: imports no rclpy.

- bag.py: rosbag2 (MCAP) episode files written atomically and read back, with the `rosbags` library;
- metadata.py: what an episode records about its origin (model hash, backend, config, git revision);
- recorder.py: the queue + writer thread that splits a message stream into per-instruction episodes;
- episode.py: a recorded episode as arrays (frames, states, commands, chunks);
- lerobot.py: episodes -> a LeRobot dataset folder;
- replay.py: comparing a replay's outputs with the recorded ones.
"""
