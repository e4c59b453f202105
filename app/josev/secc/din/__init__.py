"""DIN SPEC 70121 SECC session."""
