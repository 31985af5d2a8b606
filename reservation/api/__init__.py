"""How a caller reaches the service: address, bearer token, TLS, call metadata.

Shipped with the generated stubs (reservation.v1) in both distributions: the server's
CLI and the clients (adapters, pullers, console) connect the same way."""
