"""Controllers of the network domain."""
