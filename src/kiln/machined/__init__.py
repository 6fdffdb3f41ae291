"""machined."""
