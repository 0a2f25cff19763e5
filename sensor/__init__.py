"""sensor: process and container telemetry from the kernel's hooks (see README.md)."""

from sensor.compiled import HotPath, install

__version__ = "0.1.0"
HOT_PATH: HotPath = install()  # before any submodule import: the compiled hot path, when it is current
