"""The long-running Josev services (each a systemd unit on the station)."""
