"""Who calls the hub and what they may do: API keys, roles, the permission table, the audit."""
