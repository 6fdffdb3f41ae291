"""Which Kubernetes versions a node runs, and what differs between them: the one compatibility
table of the node daemon.

Every flag or setting that depends on the version lives here, keyed by minor release. Components
ask :func:`compatibility` for the entry of the configured version; an unsupported version is a
:class:`KubernetesVersionError` before anything is fetched or started.

Supported: v1.32 to v1.36 (any patch), and v1.20 for the test suite (the only server build
available offline, see ``scripts/build-kubernetes``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kiln.machined.kubernetes.errors import KubernetesVersionError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True, order=True)
class Version:
    """A parsed Kubernetes release version (``v1.36.0``; a pre-release suffix is kept in
    ``text`` but does not order)."""

    major: int
    minor: int
    patch: int
    text: str = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(text)
        if not match:
            raise KubernetesVersionError(f"{text!r} is not a Kubernetes version (e.g. v1.36.0)")
        major, minor, patch = (int(part) for part in match.groups())
        return cls(major, minor, patch, text if text.startswith("v") else f"v{text}")

    @property
    def minor_release(self) -> str:
        return f"v{self.major}.{self.minor}"

    def __str__(self) -> str:
        return self.text


def _flags(**flags: str) -> Mapping[str, str]:
    return MappingProxyType({name.replace("_", "-"): value for name, value in flags.items()})


@dataclass(frozen=True)
class Compatibility:
    """What one minor release needs beyond the flags every supported version shares.

    ``*_flags`` are added to the components' command lines (the insecure ports of old releases
    are closed: they would bind fixed ports on every address). ``admission_plugins`` are
    enabled besides the defaults.
    """

    minor: str
    apiserver_flags: Mapping[str, str] = field(default_factory=_flags)
    controller_manager_flags: Mapping[str, str] = field(default_factory=_flags)
    scheduler_flags: Mapping[str, str] = field(default_factory=_flags)
    admission_plugins: tuple[str, ...] = ("NodeRestriction",)
    kubelet_legacy_flags: bool = False
    """The CRI endpoint and the taints to register with go on the kubelet's command line
    (``--container-runtime=remote``): ``containerRuntimeEndpoint`` and ``registerWithTaints``
    of KubeletConfiguration came later (v1.27, v1.23)."""
    kubelet_fail_cgroup_v1: bool = True
    """The kubelet refuses a cgroup v1 host unless its config says ``failCgroupV1: false``
    (the field exists from v1.31)."""
    kubelet_pod_logs_dir: bool = True
    """The kubelet's config takes ``podLogsDir`` (from v1.29); older kubelets keep every pod's
    logs under ``/var/log/pods`` and remove those of the pods they do not run."""
    sandbox_image: str = "registry.k8s.io/pause:3.10"
    """The pod sandbox image this release was tested with (``machine.kubelet.sandboxImage``)."""
    coredns_image: str = "registry.k8s.io/coredns/coredns:v1.12.0"
    """The CoreDNS release this Kubernetes release was tested with (``cluster.coreDNS``)."""
    eviction_version: str = "policy/v1"
    """The group/version of the Eviction a drain posts (``policy/v1`` from v1.22)."""


_LEGACY = Compatibility(
    "v1.20",
    apiserver_flags=_flags(insecure_port="0"),
    controller_manager_flags=_flags(port="0"),
    scheduler_flags=_flags(port="0"),
    kubelet_legacy_flags=True,
    kubelet_fail_cgroup_v1=False,
    kubelet_pod_logs_dir=False,
    sandbox_image="k8s.gcr.io/pause:3.2",
    coredns_image="k8s.gcr.io/coredns:1.7.0",
    eviction_version="policy/v1beta1",
)

TABLE: Mapping[str, Compatibility] = MappingProxyType(
    {
        "v1.20": _LEGACY,
        **{
            minor: Compatibility(minor, coredns_image="registry.k8s.io/coredns/coredns:v1.11.3")
            for minor in ("v1.32", "v1.33")
        },
        **{minor: Compatibility(minor) for minor in ("v1.34", "v1.35", "v1.36")},
    }
)
"""Every supported minor release and what it needs."""

SUPPORTED = tuple(TABLE)


def compatibility(version: str) -> Compatibility:
    """The table's entry for ``version``; :class:`KubernetesVersionError` naming the supported
    releases when there is none."""
    parsed = Version.parse(version)
    entry = TABLE.get(parsed.minor_release)
    if entry is None or parsed.major != 1:
        raise KubernetesVersionError(
            f"Kubernetes {parsed} is not supported: use one of {', '.join(SUPPORTED)} (any patch)"
        )
    return entry
