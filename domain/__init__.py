"""Pure incident-management rules: no I/O, no Temporal, no web framework."""
