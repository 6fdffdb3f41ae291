"""The hub's namespaces."""

AUTH = "auth"
AUDIT = "audit"
INVENTORY = "inventory"
HUB = "hub"
CLUSTERS = "clusters"
