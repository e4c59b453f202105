"""EVCC shared parts: the EV model, configuration, the connection core."""
