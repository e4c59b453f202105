"""ISO 15118-20 SECC session (CommonMessages + DC; AC to come), sans-I/O."""
