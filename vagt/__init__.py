"""Vagt's runtime wiring: settings, the Temporal connection and the command line."""
