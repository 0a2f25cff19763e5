"""Container resource stats: cgroup files (v1 and v2) and the container's network namespace, read on request."""
