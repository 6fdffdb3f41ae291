"""The machine config schema: documents of ``apiVersion: kiln.dev/v1alpha1``.

A machine config file is multi-document YAML. Its main document is a ``MachineConfig`` (the
``machine`` and ``cluster`` sections); a ``HubJoinConfig`` document tells the machine which hub to
dial out to. Field names in YAML are camelCase; attributes here are snake_case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from kiln.machinery.config.types import (
    AbsolutePath,
    BootstrapToken,
    DevicePath,
    DNSDomain,
    Duration,
    Hostname,
    HttpsURL,
    HttpURL,
    InterfaceCIDR,
    InterfaceName,
    IPAddress,
    KubernetesVersion,
    NetworkCIDR,
    PemCertificate,
    PemPrivateKey,
    SecretboxKey,
    SubjectAltName,
    SysctlName,
    parse_duration,
)
from kiln.machinery.osimage import trial

API_VERSION = "kiln.dev/v1alpha1"
DEFAULT_KUBERNETES_VERSION = "v1.36.0"
DEFAULT_POD_SUBNET = "10.244.0.0/16"
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
DEFAULT_DNS_DOMAIN = "cluster.local"

# Enum fields accept their string values (strict mode would demand enum instances).
_ENUM = Field(strict=False)


class ConfigModel(BaseModel):
    """Base of every config section: strict types, unknown keys refused, camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


class MachineType(StrEnum):
    CONTROLPLANE = "controlplane"
    WORKER = "worker"


class CertAndKey(ConfigModel):
    """A certificate and, where this machine may hold it, its private key (both base64 PEM)."""

    crt: PemCertificate
    key: PemPrivateKey | None = None


class InstallConfig(ConfigModel):
    disk: DevicePath | None = None
    image: str | None = None
    wipe: bool = False
    extra_kernel_args: list[str] = Field(default_factory=list)
    # How long a slot written by an upgrade has, from its kernel's start, to reach running;
    # else the node goes back to the previous slot. Written into the new slot's boot entry.
    upgrade_health_timeout: Duration = "5m"

    @field_validator("upgrade_health_timeout")
    @classmethod
    def _usable_deadline(cls, value: str) -> str:
        trial.check_health_timeout(parse_duration(value).total_seconds())
        return value


class Route(ConfigModel):
    network: NetworkCIDR
    gateway: IPAddress | None = None
    metric: Annotated[int, Field(ge=0, le=2**32 - 1)] = 1024


class NetworkInterface(ConfigModel):
    """One link. List items merge by ``name`` in strategic-merge patches."""

    name: InterfaceName
    dhcp: bool = False
    addresses: list[InterfaceCIDR] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    mtu: Annotated[int, Field(ge=68, le=65535)] | None = None
    ignore: bool = False


class NetworkConfig(ConfigModel):
    hostname: Hostname | None = None
    interfaces: list[NetworkInterface] = Field(default_factory=list)
    nameservers: list[IPAddress] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_interfaces(self) -> NetworkConfig:
        seen: set[str] = set()
        for interface in self.interfaces:
            if interface.name in seen:
                raise ValueError(f"interface {interface.name!r} is listed twice")
            seen.add(interface.name)
        return self


class TimeConfig(ConfigModel):
    disabled: bool = False
    servers: list[str] = Field(default_factory=list)
    boot_timeout: Duration | None = None


class FileOp(StrEnum):
    CREATE = "create"
    APPEND = "append"
    OVERWRITE = "overwrite"


class MachineFile(ConfigModel):
    """A file the node writes. List items merge by ``path``."""

    path: AbsolutePath
    content: str
    permissions: Annotated[int, Field(ge=0, le=0o7777)] = 0o644
    op: Annotated[FileOp, _ENUM] = FileOp.CREATE


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Taint(ConfigModel):
    key: Annotated[str, Field(min_length=1, max_length=316)]
    value: str = ""
    effect: Annotated[TaintEffect, _ENUM]


class KubeletConfig(ConfigModel):
    extra_args: dict[str, str] = Field(default_factory=dict)
    # The pod sandbox ("pause") image of the container runtime; default: the one the
    # Kubernetes version was tested with.
    sandbox_image: Annotated[str, Field(min_length=1)] | None = None
    # The kubelet's and kube-proxy's version when it differs from cluster.kubernetes.version
    # (an upgrade pins it while the control planes go first).
    version: KubernetesVersion | None = None
    node_labels: dict[str, str] = Field(default_factory=dict)
    node_taints: list[Taint] = Field(default_factory=list)


class RegistryMirror(ConfigModel):
    endpoints: Annotated[list[HttpURL], Field(min_length=1)]


class RegistriesConfig(ConfigModel):
    mirrors: dict[str, RegistryMirror] = Field(default_factory=dict)


class MachineSection(ConfigModel):
    type: Annotated[MachineType, _ENUM]
    token: Annotated[str, Field(min_length=16)]
    ca: CertAndKey
    cert_sans: list[SubjectAltName] = Field(default_factory=list, alias="certSANs")
    install: InstallConfig = Field(default_factory=InstallConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    time: TimeConfig = Field(default_factory=TimeConfig)
    sysctls: dict[SysctlName, str] = Field(default_factory=dict)
    files: list[MachineFile] = Field(default_factory=list)
    kubelet: KubeletConfig = Field(default_factory=KubeletConfig)
    registries: RegistriesConfig = Field(default_factory=RegistriesConfig)


class ControlPlaneConfig(ConfigModel):
    endpoint: HttpsURL


class ArtifactSource(StrEnum):
    """Where Kubernetes binaries come from."""

    DEFAULT = "default"  # the official release location
    MIRROR = "mirror"  # an HTTP(S) mirror with the same layout
    LOCAL = "local"  # a directory on the node with the same layout


class KubernetesArtifacts(ConfigModel):
    source: Annotated[ArtifactSource, _ENUM] = ArtifactSource.DEFAULT
    url: HttpURL | None = None
    path: AbsolutePath | None = None

    @model_validator(mode="after")
    def _source_location(self) -> KubernetesArtifacts:
        if self.source is ArtifactSource.MIRROR and self.url is None:
            raise ValueError("source 'mirror' needs 'url'")
        if self.source is ArtifactSource.LOCAL and self.path is None:
            raise ValueError("source 'local' needs 'path'")
        if self.url is not None and self.source is not ArtifactSource.MIRROR:
            raise ValueError(f"'url' is for source 'mirror', not {self.source.value!r}")
        if self.path is not None and self.source is not ArtifactSource.LOCAL:
            raise ValueError(f"'path' is for source 'local', not {self.source.value!r}")
        return self


class KubernetesConfig(ConfigModel):
    version: KubernetesVersion = DEFAULT_KUBERNETES_VERSION
    artifacts: KubernetesArtifacts = Field(default_factory=KubernetesArtifacts)


class CNIName(StrEnum):
    BRIDGE = "bridge"  # the built-in default: CNI bridge + host-local, no container image
    NONE = "none"
    CUSTOM = "custom"  # installed from the manifests in ``urls``


class CNIConfig(ConfigModel):
    name: Annotated[CNIName, _ENUM] = CNIName.BRIDGE
    urls: list[HttpURL] = Field(default_factory=list)

    @model_validator(mode="after")
    def _custom_needs_urls(self) -> CNIConfig:
        if self.name is CNIName.CUSTOM and not self.urls:
            raise ValueError("cni 'custom' needs at least one manifest in 'urls'")
        return self


class ClusterNetworkConfig(ConfigModel):
    pod_subnets: Annotated[list[NetworkCIDR], Field(min_length=1)] = Field(
        default_factory=lambda: [DEFAULT_POD_SUBNET]
    )
    service_subnets: Annotated[list[NetworkCIDR], Field(min_length=1)] = Field(
        default_factory=lambda: [DEFAULT_SERVICE_SUBNET]
    )
    dns_domain: DNSDomain = DEFAULT_DNS_DOMAIN
    cni: CNIConfig = Field(default_factory=CNIConfig)


class ServiceAccountConfig(ConfigModel):
    key: PemPrivateKey


class EtcdConfig(ConfigModel):
    ca: CertAndKey
    extra_args: dict[str, str] = Field(default_factory=dict)


class InlineManifest(ConfigModel):
    """A manifest given inline. List items merge by ``name``."""

    name: Annotated[str, Field(min_length=1)]
    contents: str


class CoreDNSConfig(ConfigModel):
    """Cluster DNS. It is applied once an image is given (the compatibility table names the
    release each Kubernetes version was tested with); ``disabled`` leaves it out."""

    disabled: bool = False
    image: Annotated[str, Field(min_length=1)] | None = None


class ClusterSection(ConfigModel):
    id: Annotated[str, Field(min_length=1)]
    secret: Annotated[str, Field(min_length=16)]
    name: Hostname
    control_plane: ControlPlaneConfig
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    network: ClusterNetworkConfig = Field(default_factory=ClusterNetworkConfig)
    ca: CertAndKey
    aggregator_ca: CertAndKey | None = Field(default=None, alias="aggregatorCA")
    service_account: ServiceAccountConfig | None = None
    token: BootstrapToken
    secretbox_encryption_secret: SecretboxKey | None = None
    etcd: EtcdConfig | None = None
    extra_manifests: list[HttpURL] = Field(default_factory=list)
    inline_manifests: list[InlineManifest] = Field(default_factory=list)
    allow_scheduling_on_control_planes: bool = False
    core_dns: CoreDNSConfig = Field(default_factory=CoreDNSConfig, alias="coreDNS")


class MachineConfigDocument(ConfigModel):
    """The main document: what this machine is and which cluster it belongs to."""

    api_version: Literal["kiln.dev/v1alpha1"]
    kind: Literal["MachineConfig"]
    machine: MachineSection
    cluster: ClusterSection

    @model_validator(mode="after")
    def _keys_match_role(self) -> MachineConfigDocument:
        if self.machine.type is MachineType.CONTROLPLANE:
            missing = [
                path
                for path, present in (
                    ("machine.ca.key", self.machine.ca.key is not None),
                    ("cluster.ca.key", self.cluster.ca.key is not None),
                    ("cluster.aggregatorCA", self.cluster.aggregator_ca is not None),
                    (
                        "cluster.aggregatorCA.key",
                        self.cluster.aggregator_ca is None or self.cluster.aggregator_ca.key,
                    ),
                    ("cluster.serviceAccount", self.cluster.service_account is not None),
                    ("cluster.secretboxEncryptionSecret", self.cluster.secretbox_encryption_secret),
                    ("cluster.etcd", self.cluster.etcd is not None),
                    ("cluster.etcd.ca.key", self.cluster.etcd is None or self.cluster.etcd.ca.key),
                )
                if not present
            ]
            if missing:
                raise ValueError(f"a controlplane config needs {', '.join(missing)}")
        else:
            held = [
                path
                for path, key in (
                    ("machine.ca.key", self.machine.ca.key),
                    ("cluster.ca.key", self.cluster.ca.key),
                    (
                        "cluster.aggregatorCA.key",
                        self.cluster.aggregator_ca and self.cluster.aggregator_ca.key,
                    ),
                    ("cluster.etcd.ca.key", self.cluster.etcd and self.cluster.etcd.ca.key),
                    ("cluster.serviceAccount", self.cluster.service_account),
                )
                if key
            ]
            if held:
                raise ValueError(
                    f"a worker config must not carry CA or signing keys: {', '.join(held)}"
                )
        return self


class HubJoinConfigDocument(ConfigModel):
    """Tells the machine to dial out to a Kiln Hub and join its inventory."""

    api_version: Literal["kiln.dev/v1alpha1"]
    kind: Literal["HubJoinConfig"]
    url: HttpsURL
    join_token: Annotated[str, Field(min_length=8)]
    reconnect_max_backoff: Duration = "60s"


Document = MachineConfigDocument | HubJoinConfigDocument

DOCUMENT_KINDS: dict[str, type[ConfigModel]] = {
    "MachineConfig": MachineConfigDocument,
    "HubJoinConfig": HubJoinConfigDocument,
}
