"""The simulated station: physics (world.py) and its control channel on the broker (sim/ topics).

The control channel is NOT part of the Josev API: it stands in for the cable and the people
around the station (the EV simulator plugs in and sets the CP resistor, a user taps a card).
"""
