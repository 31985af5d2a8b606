"""What tests share, by concept: one module each (never a conftest, never a test module;
tests/test_imports.py keeps it so). conftest.py files hold fixtures only.

server          settings and stubs of the service under test
redis_servers   private redis-server processes, clusters, sentinel groups
postgres        a PostgreSQL server and a database of one's own
waiting         wait_until / past: a condition with a deadline, never a fixed wait
reservations    reserve/confirm/release, stock reads, the invariant check
orders          the order hub: channel orders, sync, reads, moves
errors          refused calls and their BadRequest fields
snapshots       every Redis key, to prove a call changed nothing
shards          SKUs by shard or Cluster node
certs           a CA and certificates made at test time
cli             the `reservation` command as a user runs it; a served process
access, rpcs    principals per role and their tokens; every RPC and a raw caller
routing         routing stubs, seed warehouses and rules
reserve_batch   the ReserveBatch tests' builders
writeback       write-back traffic, pulls, and the ledgers compared with the counters
records, settlement, stocksync, channels, console   what those tests share
order_reference the order hub's reference model (test_model.py, chaos checks)
fuzz_strategies hypothesis strategies for every request message
dockerfile      a k8s Dockerfile's build stage, by hand
"""
