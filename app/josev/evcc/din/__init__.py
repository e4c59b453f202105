"""DIN SPEC 70121 EVCC session."""
