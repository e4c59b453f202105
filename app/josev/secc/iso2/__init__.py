"""ISO 15118-2 SECC session (not implemented yet)."""
