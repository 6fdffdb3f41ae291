"""What clients and nodes share about Kubernetes: the names of the services a node runs for it
(:mod:`.services`) and kubeconfig files (:mod:`.kubeconfig`)."""
