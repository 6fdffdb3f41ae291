"""machinery/secrets."""
