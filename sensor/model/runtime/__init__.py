"""Container metadata from the runtimes that own containers: Docker's API, OCI state directories."""
