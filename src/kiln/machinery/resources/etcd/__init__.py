"""Resources of the etcd domain."""
