"""Names of the Kubernetes services a node supervises (light: the machine status imports it)."""

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
CONTROL_PLANE_SERVICES = (APISERVER, CONTROLLER_MANAGER, SCHEDULER)
