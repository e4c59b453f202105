"""The EV simulator (EVCC): the same protocols as the SECC, from the car's side, sans-I/O.

`josev.evcc.common.core.EvccCore` drives one connection; `josev.evcc.common.ev.EvModel` is the
physical car (battery, limits, SoC). Both are a test tool and a product feature.
"""
