"""Seeded synthetic data builders (PVS-HM-format videos, head and eye traces) for tests and demos."""
