"""`python -m sensor` runs the CLI."""

from sensor.cli.main import main

main()
