"""The gRPC edge: servicers, interceptors and app wiring. Only this package imports _pb2."""
