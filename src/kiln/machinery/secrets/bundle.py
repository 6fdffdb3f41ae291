"""The secrets bundle (``secrets.yaml``): every secret a cluster's machine configs are made from.

::

    version: v1alpha1
    cluster: {id: ..., secret: ...}
    secrets: {bootstrapToken: abcdef.0123456789abcdef, secretboxEncryptionSecret: ...}
    machineToken: ...
    certs:
      os: {crt: ..., key: ...}             # the machine API CA (Ed25519)
      k8s: {crt: ..., key: ...}            # Kubernetes CA (ECDSA P-256)
      k8sAggregator: {crt: ..., key: ...}  # front-proxy CA (ECDSA P-256)
      etcd: {crt: ..., key: ...}           # etcd CA (ECDSA P-256)
      k8sServiceAccount: {key: ...}        # service-account signing key (ECDSA P-256)

Certificates and keys are base64-encoded PEM, as in machine configs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kiln.machinery import datafile
from kiln.machinery.config.types import BootstrapToken, PemCertificate, PemPrivateKey, SecretboxKey
from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets import tokens
from kiln.machinery.secrets.keys import KeyAlgorithm, KeyPair
from kiln.machinery.secrets.pki import Certificate, CertificateAuthority

BUNDLE_VERSION: Literal["v1alpha1"] = "v1alpha1"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class ClusterIdentity(_Model):
    id: Annotated[str, Field(min_length=1)]
    secret: Annotated[str, Field(min_length=16)]


class TokenSecrets(_Model):
    bootstrap_token: BootstrapToken
    secretbox_encryption_secret: SecretboxKey


class CertAndKeyPEM(_Model):
    """A CA certificate and its key, base64 PEM."""

    crt: PemCertificate
    key: PemPrivateKey

    def authority(self, what: str) -> CertificateAuthority:
        """The CA, verified (a CA certificate, and the key is its key)."""
        return CertificateAuthority.from_b64(self.crt, self.key, what)

    @classmethod
    def of(cls, authority: CertificateAuthority) -> CertAndKeyPEM:
        return cls(crt=authority.certificate.to_b64(), key=authority.key.to_b64())


class KeyPEM(_Model):
    key: PemPrivateKey


class BundleCerts(_Model):
    os: CertAndKeyPEM
    k8s: CertAndKeyPEM = Field(alias="k8s")
    k8s_aggregator: CertAndKeyPEM = Field(alias="k8sAggregator")
    etcd: CertAndKeyPEM
    k8s_service_account: KeyPEM = Field(alias="k8sServiceAccount")


class SecretsBundle(_Model):
    """Every secret of one cluster. Load with :meth:`load`, make with :meth:`generate`."""

    version: Literal["v1alpha1"] = BUNDLE_VERSION
    cluster: ClusterIdentity
    secrets: TokenSecrets
    machine_token: Annotated[str, Field(min_length=16)]
    certs: BundleCerts

    @classmethod
    def generate(cls, now: datetime | None = None) -> SecretsBundle:
        """A fresh bundle: new CAs (10 years), keys, tokens and cluster identity."""

        def authority(name: str, algorithm: KeyAlgorithm) -> CertAndKeyPEM:
            return CertAndKeyPEM.of(CertificateAuthority.generate(name, algorithm, now=now))

        p256 = KeyAlgorithm.ECDSA_P256
        return cls(
            cluster=ClusterIdentity(
                id=tokens.cluster_identifier(), secret=tokens.cluster_identifier()
            ),
            secrets=TokenSecrets(
                bootstrap_token=tokens.bootstrap_token(),
                secretbox_encryption_secret=tokens.secretbox_key(),
            ),
            machine_token=tokens.machine_token(),
            certs=BundleCerts(
                os=CertAndKeyPEM.of(
                    CertificateAuthority.generate(
                        "kiln", KeyAlgorithm.ED25519, organizations=["kiln"], now=now
                    )
                ),
                k8s=authority("kubernetes", p256),
                k8s_aggregator=authority("front-proxy", p256),
                etcd=authority("etcd", p256),
                k8s_service_account=KeyPEM(key=KeyPair.generate(p256).to_b64()),
            ),
        )

    @classmethod
    def load(cls, path: Path) -> SecretsBundle:
        """Read and verify a bundle file; every problem is a SecretsError naming file and field."""
        return cls.from_yaml(datafile.read_file(path, SecretsError), str(path))

    @classmethod
    def from_yaml(cls, data: str | bytes, source: str = "secrets") -> SecretsBundle:
        bundle = datafile.parse_model(
            cls, data, source, SecretsError, expected="a mapping of secrets (from 'gen secrets')"
        )
        bundle.verify(source)
        return bundle

    def verify(self, source: str = "secrets") -> None:
        """Check that every CA certificate is a CA and that its key belongs to it."""
        for name, pair in self._authorities().items():
            pair.authority(f"{source}: certs.{name}")

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True)
        return yaml.safe_dump(data, sort_keys=False)

    @property
    def os_ca(self) -> CertificateAuthority:
        """The CA of the machine API (``kilnctl`` client certificates, node API servers)."""
        return self.certs.os.authority("certs.os")

    @property
    def kubernetes_ca(self) -> CertificateAuthority:
        return self.certs.k8s.authority("certs.k8s")

    @property
    def aggregator_ca(self) -> CertificateAuthority:
        return self.certs.k8s_aggregator.authority("certs.k8sAggregator")

    @property
    def etcd_ca(self) -> CertificateAuthority:
        return self.certs.etcd.authority("certs.etcd")

    @property
    def os_ca_certificate(self) -> Certificate:
        return Certificate.from_b64(self.certs.os.crt, "certs.os.crt")

    def _authorities(self) -> dict[str, CertAndKeyPEM]:
        certs = self.certs
        return {
            "os": certs.os,
            "k8s": certs.k8s,
            "k8sAggregator": certs.k8s_aggregator,
            "etcd": certs.etcd,
        }
