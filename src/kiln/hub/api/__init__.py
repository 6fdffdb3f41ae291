"""The hub's gRPC servers: the API port (TLS, API keys) and the machine port (mutual TLS)."""
