"""Deterministic Temporal workflows."""
