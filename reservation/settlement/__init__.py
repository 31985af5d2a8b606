"""Settlement: the channels' statements as canonical lines in the records store, and the
T+1 reconciliation of them against the hub's orders there (matched, or a difference of a
named class)."""
