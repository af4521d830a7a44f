"""Time-correct action-chunk execution: chunks on the clock -> one command per control tick (ROS-free).

This file stays free of imports. Child processes start as `python -m vla_ros.execution.child_process`, which
imports this package first; anything imported here (numpy and its BLAS thread pool) would be created before
the child drops the real-time priority it inherited, and its threads would keep SCHED_FIFO. Import from the
modules: execution.scheduler (ChunkScheduler), execution.synthesis (CommandSynthesizer, check_compatible),
execution.control_loop, execution.tick_schedule, execution.realtime, execution.child_process.
"""
