"""Workbench: `vla_bench` suites, the cross-process test rig, plots. Never imported by the runtime."""
