"""Builds the documentation's reference pages from the code (settings, API, CLI)."""
