"""Resources of the runtime domain."""
