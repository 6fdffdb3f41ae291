"""Errors of the Kubernetes domain of the node daemon.

::

    KubernetesError                     (kiln.machined.errors.MachinedError)
    ├── KubernetesVersionError          an unsupported or malformed version
    ├── ArtifactError                   a binary cannot be had
    │   └── ArtifactVerificationError   a binary does not match its SHA-256: never run
    └── KubernetesCertificateError      component certificates or kubeconfigs cannot be made
"""

from __future__ import annotations

from kiln.machined.errors import MachinedError


class KubernetesError(MachinedError):
    """Base of the Kubernetes domain."""


class KubernetesVersionError(KubernetesError):
    """The version is not one this node supports."""


class ArtifactError(KubernetesError):
    """A Kubernetes binary cannot be fetched or stored."""


class ArtifactVerificationError(ArtifactError):
    """A binary's SHA-256 differs from the published one; it is never executed."""


class KubernetesCertificateError(KubernetesError):
    """Component certificates or kubeconfigs cannot be issued or written."""
