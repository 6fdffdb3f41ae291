"""Resources of the network domain."""
