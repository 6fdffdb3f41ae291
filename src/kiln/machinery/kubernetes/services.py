"""Names of the Kubernetes services a node supervises; the node's readiness and the health
checks of its services leave them to the Kubernetes checks (``kilnctl health --kubernetes``)."""

APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
CONTROL_PLANE_SERVICES = (APISERVER, CONTROLLER_MANAGER, SCHEDULER)
CONTAINERD = "containerd"
KUBELET = "kubelet"
KUBE_PROXY = "kube-proxy"
NODE_SERVICES = (CONTAINERD, KUBELET, KUBE_PROXY)
KUBERNETES_SERVICES = CONTROL_PLANE_SERVICES + NODE_SERVICES
