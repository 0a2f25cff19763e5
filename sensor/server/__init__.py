"""The gRPC TelemetryService: listeners, the pipeline thread, the service, `sensor run`."""
