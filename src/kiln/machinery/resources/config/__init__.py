"""Resources of the config domain."""
