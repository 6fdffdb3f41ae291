"""The hub's namespaces."""

AUTH = "auth"
AUDIT = "audit"
INVENTORY = "inventory"
CLUSTERS = "clusters"
