"""Exports: the daemon's events beyond the host, to rotated JSON-lines files and to a NATS JetStream stream."""
