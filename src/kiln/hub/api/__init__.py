"""The hub's gRPC API server (TLS, API keys) and what it serves. Machines link on the machine
port instead (:mod:`kiln.hub.links`)."""
