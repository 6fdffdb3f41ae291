"""Several hub processes on one database: who leads, who is alive, and reaching a machine
whose link another replica holds."""
