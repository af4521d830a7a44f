# make test / make demo work on a fresh machine: they create .venv, install, then run.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vla_ros_installed
# The ros-jazzy wheels keep the ament index inside the venv; rclpy finds its middleware through it.
RUN := AMENT_PREFIX_PATH=$(abspath $(VENV)) MUJOCO_GL=$${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1

.PHONY: install test demo lint bench clean

install: $(STAMP)

# Reinstalled when any installed file changes (a non-editable install would otherwise run stale code).
SOURCES := $(shell find vla_ros launch config models resource -type f -not -path '*/__pycache__/*' 2>/dev/null)

$(STAMP): requirements.txt requirements-common.txt requirements-openpi.txt setup.py setup.cfg package.xml $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-build-isolation ".[dev]"
	$(PY) -m pip install -q --no-deps -r requirements-openpi.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation --force-reinstall .
	touch $(STAMP)

test: $(STAMP)
	$(RUN) $(VENV)/bin/ruff check vla_ros test launch setup.py
	$(RUN) $(PY) -m pytest -q

# The ROS-free subset with ROS 2 hidden from this and every child process (test/support/without_ros), so a test
# that needs rclpy without being marked `ros` fails here even on a machine that has ROS.
.PHONY: test-no-ros
test-no-ros: $(STAMP)
	$(RUN) PYTHONPATH=$(abspath test/support/without_ros) $(PY) -m pytest -q -m "not ros"

demo: $(STAMP)
	$(RUN) $(VENV)/bin/vla_demo

bench: $(STAMP)
	$(RUN) $(VENV)/bin/vla_bench rate --json

lint: $(STAMP)
	$(VENV)/bin/ruff check vla_ros test launch setup.py

clean:
	rm -rf build *.egg-info out
