"""The oversell guard: a dynamic safety stock per SKU and a circuit breaker per SKU and
channel (see guard/service.py). The decision itself is made in Redis, inside the reserve
script (storage/lua/_guard.lua), so no order slips past a breaker."""

from reservation.guard.service import Guard

__all__ = ["Guard"]
