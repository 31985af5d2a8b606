"""Clients of the gRPC API: thin adapters and the reference WMS puller (no business rules)."""
