"""The fleet: its engine's layout (NATS JetStream), and `sensor fleet`'s views of every node's sensor."""
