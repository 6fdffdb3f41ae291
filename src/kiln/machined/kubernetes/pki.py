"""The certificates, keys and kubeconfigs of a control-plane node's Kubernetes components,
issued from the cluster's CAs in the machine config, written 0600 into one directory::

    ca.crt, ca.key                the Kubernetes CA (cluster.ca; the key signs kubelets' CSRs)
    apiserver.crt/.key            kube-apiserver's serving certificate
    apiserver-kubelet-client.crt/.key   kube-apiserver → kubelets
    front-proxy-ca.crt, front-proxy-client.crt/.key   the aggregation layer (cluster.aggregatorCA)
    sa.key, sa.pub                service-account signing key (cluster.serviceAccount)
    controller-manager.crt/.key, scheduler.crt/.key   their serving certificates
    controller-manager.kubeconfig, scheduler.kubeconfig

They are issued afresh at every boot (a year's validity), all files at once. kube-apiserver
reaches etcd with the node's own etcd client certificate (:mod:`kiln.machined.etcd.certs`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from kiln.machined.address import bind_address
from kiln.machined.kubernetes.errors import KubernetesCertificateError
from kiln.machinery.config.model import MachineConfigDocument
from kiln.machinery.endpoints import is_ip
from kiln.machinery.errors import MachineryError
from kiln.machinery.kubernetes import kubeconfig
from kiln.machinery.kubernetes.kubeconfig import MASTERS, KubeconfigUser, render
from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets import CertificateAuthority, IssuedCertificate, KeyPair, Usage

VALIDITY = timedelta(days=365)
ADMIN_VALIDITY = timedelta(days=365)
APISERVER_PORT = 6443
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259


@dataclass(frozen=True)
class ControlPlanePaths:
    """Where the component files are (see the module docstring)."""

    directory: Path

    def file(self, name: str) -> Path:
        return self.directory / name

    @property
    def ca(self) -> Path:
        return self.file("ca.crt")

    @property
    def service_account_key(self) -> Path:
        return self.file("sa.key")

    @property
    def service_account_public(self) -> Path:
        return self.file("sa.pub")

    def cert(self, name: str) -> Path:
        return self.file(f"{name}.crt")

    def key(self, name: str) -> Path:
        return self.file(f"{name}.key")

    def kubeconfig(self, name: str) -> Path:
        return self.file(f"{name}.kubeconfig")


def kubernetes_ca(document: MachineConfigDocument) -> CertificateAuthority:
    ca = document.cluster.ca
    if ca.key is None:
        raise KubernetesCertificateError("the config holds no Kubernetes CA key (cluster.ca.key)")
    try:
        return CertificateAuthority.from_b64(ca.crt, ca.key, "cluster.ca")
    except MachineryError as exc:
        raise KubernetesCertificateError(str(exc)) from exc


def service_ip(document: MachineConfigDocument) -> str:
    """The ClusterIP of the ``kubernetes`` service: the first address of the service subnet."""
    network = ipaddress.ip_network(document.cluster.network.service_subnets[0], strict=False)
    return str(network.network_address + 1)


def apiserver_names(
    document: MachineConfigDocument, hostname: str, address: str, endpoint_host: str
) -> tuple[list[str], list[str]]:
    """The DNS and IP SANs of kube-apiserver's serving certificate."""
    domain = document.cluster.network.dns_domain
    dns = [hostname, "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append(f"kubernetes.default.svc.{domain}")
    ips = [address, "127.0.0.1", service_ip(document)]
    for name in [endpoint_host, *document.machine.cert_sans]:
        (ips if is_ip(name) else dns).append(name)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def admin_kubeconfig(
    document: MachineConfigDocument, server: str, user: str = "admin"
) -> KubeconfigUser:
    """An admin's kubeconfig (``system:masters``) for the cluster of ``document``."""
    ca = kubernetes_ca(document)
    try:
        return kubeconfig.admin(ca, document.cluster.name, server, ADMIN_VALIDITY, user=user)
    except MachineryError as exc:
        raise KubernetesCertificateError(f"cannot issue the certificate of {user}: {exc}") from exc


def write_control_plane_files(
    document: MachineConfigDocument,
    hostname: str,
    address: str,
    endpoint_host: str,
    directory: Path,
) -> ControlPlanePaths:
    """Issue every component file for the node at ``address`` and write them; blocking."""
    paths = ControlPlanePaths(directory)
    ca = kubernetes_ca(document)
    cluster = document.cluster
    if cluster.aggregator_ca is None or cluster.aggregator_ca.key is None:
        raise KubernetesCertificateError("the config holds no aggregator CA (cluster.aggregatorCA)")
    if cluster.service_account is None:
        raise KubernetesCertificateError("the config holds no service-account key")
    try:
        proxy_ca = CertificateAuthority.from_b64(
            cluster.aggregator_ca.crt, cluster.aggregator_ca.key, "cluster.aggregatorCA"
        )
        sa = KeyPair.from_b64(cluster.service_account.key, "cluster.serviceAccount.key")
    except MachineryError as exc:
        raise KubernetesCertificateError(str(exc)) from exc
    dns, ips = apiserver_names(document, hostname, address, endpoint_host)
    local = f"https://{bind_address(address, APISERVER_PORT)}"
    issued = {
        "apiserver": _issue(ca, "kube-apiserver", Usage.SERVER, dns=dns, ips=ips),
        "apiserver-kubelet-client": _issue(
            ca, "kube-apiserver-kubelet-client", Usage.CLIENT, organizations=[MASTERS]
        ),
        "front-proxy-client": _issue(proxy_ca, "front-proxy-client", Usage.CLIENT),
        "controller-manager": _issue(
            ca, "kube-controller-manager", Usage.SERVER, dns=[hostname, "localhost"], ips=[address]
        ),
        "scheduler": _issue(
            ca, "kube-scheduler", Usage.SERVER, dns=[hostname, "localhost"], ips=[address]
        ),
    }
    files: dict[Path, bytes | str] = {
        paths.ca: ca.certificate.pem,
        paths.file("ca.key"): ca.key.pem,
        paths.file("front-proxy-ca.crt"): proxy_ca.certificate.pem,
        paths.service_account_key: sa.pem,
        paths.service_account_public: _public_pem(sa),
    }
    for name, leaf in issued.items():
        files[paths.cert(name)] = _cert(leaf)
        files[paths.key(name)] = leaf.key.pem
    for component, user in (
        ("controller-manager", "system:kube-controller-manager"),
        ("scheduler", "system:kube-scheduler"),
    ):
        client = _issue(ca, user, Usage.CLIENT)
        kubeconfig = KubeconfigUser(
            component, cluster.name, local, ca.certificate.pem, _cert(client), client.key.pem
        )
        files[paths.kubeconfig(component)] = render(kubeconfig)
    try:
        ensure_private_dir(directory)
        write_private_files(files)
    except OSError as exc:
        raise KubernetesCertificateError(f"cannot write Kubernetes certificates: {exc}") from exc
    return paths


def _issue(
    ca: CertificateAuthority,
    name: str,
    usage: Usage,
    *,
    organizations: Sequence[str] = (),
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    valid: timedelta = VALIDITY,
) -> IssuedCertificate:
    try:
        return ca.issue(
            name, usage, valid, organizations=organizations, dns_names=dns, ip_addresses=ips
        )
    except MachineryError as exc:
        raise KubernetesCertificateError(f"cannot issue the certificate of {name}: {exc}") from exc


def _cert(issued: IssuedCertificate) -> bytes:
    return issued.certificate.pem


def _public_pem(pair: KeyPair) -> bytes:
    return pair.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
