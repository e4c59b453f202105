"""Apply simulator control commands to the world; build the sim/station state. Sans-I/O."""

from __future__ import annotations

import logging

from josev_hal.sim import protocol as p
from josev_hal.sim.world import EvContactor, SimStation

log = logging.getLogger(__name__)


class UnknownEvse(ValueError):
    pass


def apply(station: SimStation, cmd: p._Msg, tap: dict[int, list[str]] | None = None) -> None:
    """Mutate the world as the command says; card taps are appended to `tap[evse_id]`."""
    evse = station.evses.get(cmd.evse_id)
    if evse is None:
        raise UnknownEvse(f"no simulated EVSE {cmd.evse_id} (have {sorted(station.evses)})")
    ev = evse.ev
    match cmd:
        case p.Plug(pp_ohm=ohm):
            ev.plugged, ev.pp_ohm, ev.cp_state = True, ohm, "B"
        case p.Unplug():
            ev.plugged, ev.cp_state, ev.contactor_closed = False, "B", False
        case p.SetCp(state=state, diode=diode):
            if not ev.plugged:
                raise ValueError("cp: the EV is not plugged in (send plug first)")
            ev.cp_state, ev.diode = state, diode
        case p.SetBattery(voltage=v, resistance=r, max_current=i):
            ev.battery_voltage, ev.battery_resistance, ev.max_current = v, r, i
        case p.SetEvContactor(mode=mode):
            ev.contactor_mode = EvContactor(mode)
        case p.Tap(uid=uid):
            if tap is not None:
                tap.setdefault(cmd.evse_id, []).append(uid.upper())
            evse.cards.append(uid.upper())
        case p.EmergencyStop(pressed=pressed):
            station.estop = pressed
        case p.SetIsolation(resistance_ohm=ohm):
            evse.isolation_ohm = ohm
        case p.SupplyFault(fault=fault):
            evse.supply_faults = [] if fault is None else [*evse.supply_faults, fault]
        case p.WeldContactor(welded=welded):
            evse.contactor_welded = welded
        case p.Rcd(tripped=tripped):
            evse.rcd_tripped = tripped
        case _:
            raise ValueError(f"unhandled simulator command {cmd!r}")
    # Battery updates stream with the EV's state of charge: debug; everything else is an event.
    level = logging.DEBUG if isinstance(cmd, p.SetBattery) else logging.INFO
    log.log(level, "sim: evse %d: %s", cmd.evse_id, cmd.model_dump_json())


def state_of(station: SimStation, evse_id: int) -> p.StationState:
    w = station.evses[evse_id]
    high, _ = w.cp_levels()
    return p.StationState(
        evse_id=evse_id,
        time=round(station.now, 4),
        cp_mode=w.cp_mode.value,
        duty_cycle=w.duty,
        cp_voltage=high,
        plugged=w.ev.plugged,
        ev_cp_state=w.ev.cp_state,
        contactors_closed=w.contactor_closed,
        dc_voltage=round(w.supply_voltage, 2),
        dc_current=round(w.supply_current, 2),
        ac_current=round(w.ac_current, 2),
        energy_wh=round(w.energy_wh, 3),
        estop=station.estop,
        locked=w.locked,
        isolation_testing=w.imd_started_at is not None,
        display=w.display,
        energy_export_wh=round(w.energy_export_wh, 3),
    )
