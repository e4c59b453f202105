"""ISO 15118-20 EVCC session."""
