"""The hub's roles, least privileged first."""

from __future__ import annotations

from enum import StrEnum


class HubRole(StrEnum):
    READER = "reader"  # sees the inventory and machines' logs
    INFRA_PROVIDER = "infra-provider"  # creates join tokens for the machines it provides
    OPERATOR = "operator"  # labels machines, manages join tokens
    ADMIN = "admin"  # everything: API keys, revocations, the audit log

    @classmethod
    def parse(cls, text: str) -> HubRole:
        wanted = text.strip().lower().replace("_", "-")
        for role in cls:
            if role.value == wanted or role.value.replace("-", "") == wanted:
                return role
        known = ", ".join(role.value for role in cls)
        raise ValueError(f"unknown role {text!r} (known: {known})")
