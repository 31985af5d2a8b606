"""The order audit trail: order events pulled from the service into a relational store."""
