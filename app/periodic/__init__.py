"""Periodic jobs claimed tick by tick in Postgres, so any number of schedulers run each tick once."""
