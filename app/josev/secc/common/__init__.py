"""What every SECC protocol core shares: actions, timing tables, units, the connection core."""
