"""ISO 15118-2 EVCC session (AC and DC)."""
