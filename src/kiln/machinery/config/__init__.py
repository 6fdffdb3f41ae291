"""machinery/config."""
