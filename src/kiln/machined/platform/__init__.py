"""What the node learns from the host it runs on: addresses, hardware, versions."""
