"""Importers from other on-call products: fetch (read-only), map to a plan, print it, apply it."""
