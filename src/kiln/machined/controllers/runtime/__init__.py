"""Controllers of the runtime domain."""
