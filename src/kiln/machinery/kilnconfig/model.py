"""The kilnconfig file: named contexts, each with endpoints, nodes and client credentials.

::

    context: prod                  # the current context
    contexts:
      prod:
        endpoints: [10.5.0.2, "cp.example.com:50000"]   # hosts, optionally host:port
        nodes: [10.5.0.3]                               # default targets of commands
        ca: ...                                         # OS CA certificate, base64 PEM
        crt: ...                                        # client certificate, base64 PEM
        key: ...                                        # client key, base64 PEM
      edge@hub:                    # through a Kiln Hub, to the machines of its cluster "edge"
        hub: {url: "hub.example.com:8443", ca: ..., apiKey: khk...., cluster: edge}
        nodes: []                  # default: the cluster's first control plane

Every operation returns a new :class:`Kilnconfig`; problems raise KilnconfigError naming the
file (where it was loaded from) and the context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from kiln.machinery.config.types import PemCertificate, PemPrivateKey
from kiln.machinery.errors import KilnconfigError
from kiln.machinery.kilnconfig.addresses import check_endpoint, check_host

_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]*$")


def _context_name(value: str) -> str:
    if not _CONTEXT_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a context name (letters, digits and _.@:+- , not starting with one"
            " of _.@:+-)"
        )
    return value


ContextName = Annotated[str, AfterValidator(_context_name)]
Endpoint = Annotated[str, AfterValidator(check_endpoint)]
Host = Annotated[str, AfterValidator(check_host)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HubRoute(_Model):
    """Calls go to a Kiln Hub with an API key; the hub relays them to the machines of one of
    its clusters (``kiln-hub kilnconfig``), authorized by the key's role."""

    model_config = ConfigDict(populate_by_name=True)

    url: Endpoint  # HOST:PORT of the hub's API
    ca: PemCertificate  # the certificate the hub serves (pinned), base64 PEM
    api_key: str = Field(alias="apiKey", min_length=1)
    cluster: str = Field(min_length=1)


class Context(_Model):
    """Where to connect and who to be: endpoints, default nodes, CA and client credentials;
    or a hub that relays calls to the machines of a cluster (``hub``, without ca, crt, key)."""

    endpoints: list[Endpoint] = Field(default_factory=list)
    nodes: list[Host] = Field(default_factory=list)
    ca: PemCertificate = ""
    crt: PemCertificate = ""
    key: PemPrivateKey = ""
    hub: HubRoute | None = None

    @model_validator(mode="after")
    def _credentials_or_hub(self) -> Context:
        own = [name for name in ("ca", "crt", "key") if getattr(self, name)]
        if self.hub is None and len(own) < 3:
            missing = ", ".join(n for n in ("ca", "crt", "key") if n not in own)
            raise ValueError(f"missing {missing} (client credentials), or a hub to go through")
        if self.hub is not None and own:
            raise ValueError(f"a context through a hub holds no {', '.join(own)}: the hub does")
        if self.hub is not None and self.endpoints:
            raise ValueError("a context through a hub has no endpoints: the hub is its endpoint")
        return self


@dataclass(frozen=True)
class Rename:
    """A context that a merge had to store under another name."""

    old: str
    new: str


class Kilnconfig(_Model):
    """The contents of a kilnconfig file."""

    context: ContextName | None = None
    contexts: dict[ContextName, Context] = Field(default_factory=dict)
    _source: str = PrivateAttr(default="kilnconfig")

    @model_validator(mode="after")
    def _current_exists(self) -> Kilnconfig:
        if self.context is not None and self.context not in self.contexts:
            raise ValueError(f"current context {self.context!r} is not among the contexts")
        return self

    def __eq__(self, other: object) -> bool:
        """Equal contents; where each was loaded from does not matter."""
        if not isinstance(other, Kilnconfig):
            return NotImplemented
        return self.context == other.context and self.contexts == other.contexts

    __hash__ = None  # type: ignore[assignment]

    @property
    def source(self) -> str:
        """Where this config was loaded from (or will be saved), for error messages."""
        return self._source

    def with_source(self, source: str) -> Kilnconfig:
        copy = self.model_copy()
        copy._source = source
        return copy

    def current(self, name: str | None = None) -> tuple[str, Context]:
        """The context called ``name``, or the current one; KilnconfigError if there is none."""
        wanted = name or self.context
        if wanted is None:
            if not self.contexts:
                raise KilnconfigError(f"{self.source}: has no contexts")
            raise KilnconfigError(f"{self.source}: no current context is set")
        return wanted, self.get(wanted)

    def get(self, name: str) -> Context:
        try:
            return self.contexts[name]
        except KeyError:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise KilnconfigError(
                f"{self.source}: context {name!r} not found (known: {known})"
            ) from None

    def add(self, name: str, context: Context, *, replace: bool = False) -> Kilnconfig:
        """Add ``context`` as ``name`` and make it current."""
        _valid_name(self.source, name)
        if name in self.contexts and not replace:
            raise KilnconfigError(f"{self.source}: context {name!r} already exists")
        return self._evolve(name, {**self.contexts, name: context})

    def use(self, name: str) -> Kilnconfig:
        self.get(name)
        return self._evolve(name, self.contexts)

    def remove(self, name: str) -> Kilnconfig:
        self.get(name)
        contexts = {key: value for key, value in self.contexts.items() if key != name}
        return self._evolve(None if self.context == name else self.context, contexts)

    def with_endpoints(self, endpoints: Sequence[str], name: str | None = None) -> Kilnconfig:
        """Set the endpoints of context ``name`` (default: the current one)."""
        return self._update(name, "endpoints", endpoints, check_endpoint)

    def with_nodes(self, nodes: Sequence[str], name: str | None = None) -> Kilnconfig:
        """Set the default nodes of context ``name`` (default: the current one)."""
        return self._update(name, "nodes", nodes, check_host)

    def merge(self, other: Kilnconfig) -> tuple[Kilnconfig, list[Rename]]:
        """Add ``other``'s contexts; a clashing name becomes ``name-1``, ``name-2``, ...

        An identical context already stored under the same name is not added twice. ``other``'s
        current context becomes current.
        """
        contexts = dict(self.contexts)
        renames: list[Rename] = []
        mapped: dict[str, str] = {}
        for name, context in other.contexts.items():
            target = name
            suffix = 0
            while target in contexts and contexts[target] != context:
                suffix += 1
                target = f"{name}-{suffix}"
            if target != name:
                renames.append(Rename(name, target))
            contexts[target] = context
            mapped[name] = target
        current = mapped[other.context] if other.context is not None else self.context
        return self._evolve(current, contexts), renames

    def _update(
        self, name: str | None, field: str, values: Sequence[str], check: Callable[[str], str]
    ) -> Kilnconfig:
        target, context = self.current(name)
        checked = [_checked(f"{self.source}: context {target!r}", check, v) for v in values]
        updated = context.model_copy(update={field: checked})
        return self._evolve(self.context, {**self.contexts, target: updated})

    def _evolve(self, current: str | None, contexts: dict[str, Context]) -> Kilnconfig:
        evolved = Kilnconfig(context=current, contexts=contexts)
        evolved._source = self._source
        return evolved


def _valid_name(source: str, name: str) -> None:
    _checked(source, _context_name, name)


def _checked(where: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except ValueError as exc:
        raise KilnconfigError(f"{where}: {exc}") from None
