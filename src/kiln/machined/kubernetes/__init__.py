"""The Kubernetes domain of the node daemon: the supported versions and what differs between
them (:mod:`.versions`), verified binaries in a content-addressed cache (:mod:`.artifacts`),
component certificates and kubeconfigs (:mod:`.pki`) and the control-plane services
(:mod:`.controlplane`). Errors are drawn in :mod:`.errors`. The services' names are in
:mod:`kiln.machinery.kubernetes.services`.
"""
