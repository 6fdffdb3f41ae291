"""Names of the Kubernetes services a node supervises; the node's readiness and the health
checks of its services leave the control plane to the Kubernetes checks."""

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
CONTROL_PLANE_SERVICES = (APISERVER, CONTROLLER_MANAGER, SCHEDULER)
