"""Josev OTA: A/B updates with RAUC, driven over the Josev API."""

__version__ = "0.1.0"
