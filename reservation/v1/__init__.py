"""Generated protobuf and gRPC code for package reservation.v1 (``make proto``). Do not edit."""
