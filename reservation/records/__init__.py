"""The orders of record: the SQL read model of the order hub (schema, migrations, the
follower that keeps it from the order event streams, and reads of it)."""
