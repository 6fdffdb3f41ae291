"""machinery/kilnconfig."""
