"""The fleet's jobs: work that runs once in the fleet, on `sensor fleet worker`s, and moves when its worker dies."""
