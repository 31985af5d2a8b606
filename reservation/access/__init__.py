"""Who may call what: principals and their roles, the role table, per-caller limits.

No gRPC types here: the server's auth and limit interceptors use this package, the
servicers ask it (through `grant`) whether the caller may touch a channel or a group.
"""
