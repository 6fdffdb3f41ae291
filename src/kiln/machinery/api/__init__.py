"""gRPC code generated from proto/ by scripts/gen-proto. Do not edit the *_pb2* modules."""
