"""The part of etcd's v3 gRPC API the node uses (packages ``etcdserverpb`` and ``mvccpb``),
generated from proto/kiln/machined/etcd/api/ by scripts/gen-proto. Do not edit the *_pb2*
modules."""
