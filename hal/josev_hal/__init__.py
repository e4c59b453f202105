"""josev-hal: the charging-station side of the Josev API (docs/hal.md).

Devices live in one package per class (cp, contactor, isolation, power, rfid, meter, tpm), each
with one interface, a Linux backend and a simulator backend; `station` couples them per EVSE,
`supervisor` keeps the power path safe on its own, `service` speaks the Josev API.
"""

__version__ = "0.1.0"
