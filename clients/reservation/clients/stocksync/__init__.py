"""Stock out to the channels: a worker per channel shop that keeps its listings showing
what the service may sell (worker.py), with its durable state in SQLite (store.py)."""
