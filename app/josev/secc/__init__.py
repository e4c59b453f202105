"""The charger side (SECC) of DIN SPEC 70121, ISO 15118-2 and ISO 15118-20, sans-I/O.

`josev.secc.common.core.SeccCore` is the entry point: one per V2G connection. It takes events
(a V2GTP payload, a timer, a station update, an API response), each with `now`, and returns
actions (`josev.secc.common.actions`). The asyncio binding is `josev.services.hlc`.
"""
