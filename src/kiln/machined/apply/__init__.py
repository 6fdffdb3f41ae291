"""Applying machine configs: where they are kept, how a mode is chosen, what changes."""
