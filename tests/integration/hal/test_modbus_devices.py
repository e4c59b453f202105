"""Modbus devices on real transports: the meter over TCP on loopback, the IMD over RTU on a pty."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import tty
from collections.abc import Iterator

import pytest

from josev_hal.config import DEFAULT_REGISTERS, IsolationConfig, MeterConfig, MeterRegister
from josev_hal.isolation.bender import IsoCha425
from josev_hal.isolation.imdsim import ImdSimulator
from josev_hal.meter.base import MeterError
from josev_hal.meter.modbus import ModbusMeter, decode, encode
from josev_hal.meter.modsim import MeterServer, RtuMeterServer
from josev_hal.modbus import (
    ModbusError,
    ModbusRtuClient,
    answer_pdu,
    crc16,
    parse_pdu,
    read_pdu,
    rtu_frame,
)

OCMF = ('OCMF|{"FV":"1.0","GI":"SIM","GS":"1","PG":"T1","RD":['
        '{"TM":"2026-11-22T10:00:00,000+0000 S","RV":1.234,"RI":"1-b:1.8.0","RU":"kWh",'
        '"ST":"G"}]}|{"SA":"ECDSA-secp256r1-SHA256",'
        '"SD":"3045022100AB"}')


def test_crc_and_framing() -> None:
    # The example frame from the Modbus serial line guide: read 1 holding register at 0 of unit 1
    assert rtu_frame(1, read_pdu("holding", 0, 1)).hex() == "010300000001840a"
    assert crc16(b"") == 0xFFFF


def test_exception_answers_are_errors() -> None:
    req = read_pdu("holding", 100, 2)
    with pytest.raises(ModbusError, match="illegal data address"):
        parse_pdu(req, answer_pdu(req, {}))
    with pytest.raises(ModbusError, match="carries"):
        parse_pdu(req, bytes([3, 2, 0, 1]))


@pytest.mark.parametrize("encoding", ["float32", "int32", "uint32", "uint16", "int64"])
@pytest.mark.parametrize("order", ["big", "little"])
def test_register_codec_round_trip(encoding: str, order: str) -> None:
    reg = MeterRegister.model_validate({"address": 0, "encoding": encoding,
                                        "word_order": order, "scale": 0.1})
    assert decode(encode(1234.5, reg), reg) == pytest.approx(1234.5, abs=0.1)


async def test_meter_over_modbus_tcp() -> None:
    server = MeterServer(unit=1)
    regs = DEFAULT_REGISTERS
    for name, value in (("voltage_l1", 231.0), ("voltage_l2", 229.5), ("voltage_l3", 230.2),
                        ("current_l1", 16.0), ("current_l2", 15.5), ("current_l3", 16.2),
                        ("power_factor", 0.98), ("frequency", 49.98),
                        ("energy_import_wh", 12345.0), ("energy_export_wh", 0.0),
                        ("reactive_import_varh", 10.0), ("reactive_export_varh", 0.0)):
        server.set(regs[name], value)
    server.set_text(0x1000, OCMF, 125)
    port = await server.start()
    cfg = MeterConfig(backend="modbus_tcp", port=port, ocmf_register=0x1000,
                      public_key="3059301306072A8648CE3D0201")
    meter = ModbusMeter.from_config(cfg)
    try:
        r = await meter.read()
        assert r.voltage == pytest.approx((231.0, 229.5, 230.2))
        assert r.current[2] == pytest.approx(16.2)
        assert r.energy_import_wh == pytest.approx(12345.0)
        assert r.frequency == pytest.approx(49.98, abs=1e-3)
        (signed,) = r.signed
        assert base64.b64decode(signed.signed_meter_data).decode() == OCMF
        assert signed.signing_method == "ECDSA-secp256r1-SHA256"
        assert signed.encoding_method == "OCMF"
        await server.stop()  # the meter goes away: a clear error, then recovery
        with pytest.raises(MeterError):
            await meter.read()
    finally:
        await meter.close()
        await server.stop()


async def test_meter_wrong_unit_times_out() -> None:
    server = MeterServer(unit=1)
    port = await server.start()
    meter = ModbusMeter.from_config(MeterConfig(backend="modbus_tcp", port=port, unit=9))
    try:
        with pytest.raises(MeterError, match="TimeoutError"):
            await meter.read()
    finally:
        await meter.close()
        await server.stop()


async def test_meter_over_modbus_rtu(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    server = RtuMeterServer(master, unit=2)
    for name in DEFAULT_REGISTERS:
        server.set(DEFAULT_REGISTERS[name], 7.0)
    server.set(DEFAULT_REGISTERS["energy_import_wh"], 98765.0)
    meter = ModbusMeter.from_config(MeterConfig(backend="modbus_rtu", serial_port=path, unit=2,
                                                baudrate=115200))
    try:
        r = await meter.read()
        assert r.energy_import_wh == pytest.approx(98765.0, abs=0.01)
        assert r.current == pytest.approx((7.0, 7.0, 7.0))
        assert server.requests == len(DEFAULT_REGISTERS)
    finally:
        await meter.close()
        server.close()


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: the simulator holds the master, the driver opens the slave path."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def _wait_result(imd: IsoCha425, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = imd.poll(time.monotonic())
        if not result.ongoing:
            return result.level
        time.sleep(0.05)
    raise AssertionError("no IMD result")


@pytest.mark.parametrize(("ohm", "level"), [(5e6, "valid"), (150e3, "warning"), (20e3, "fault")])
def test_isocha425_over_rtu(pty_pair: tuple[int, str], ohm: float, level: str) -> None:
    master, path = pty_pair
    sim = ImdSimulator(master, unit=3, resistance_ohm=ohm, voltage=500.0, measure_s=0.3)
    imd = IsoCha425(ModbusRtuClient(path, 19200, parity="E", timeout=0.5),
                    IsolationConfig(unit=3), poll_interval_s=0.05)
    try:
        imd.start(500.0, time.monotonic())
        assert imd.poll(time.monotonic()).ongoing
        assert _wait_result(imd) == level
        assert sim.registers[3026] == 1
        imd.stop(time.monotonic())
        end = time.monotonic() + 5
        while sim.registers[3026] != 0 and time.monotonic() < end:
            time.sleep(0.02)
        assert sim.registers[3026] == 0
    finally:
        imd.close()
        sim.close()


def test_isocha425_keeps_monitoring(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    sim = ImdSimulator(master, unit=3, resistance_ohm=5e6, voltage=500.0, measure_s=0.3)
    imd = IsoCha425(ModbusRtuClient(path, 19200, parity="E", timeout=0.5),
                    IsolationConfig(unit=3), poll_interval_s=0.05)
    try:
        imd.start(500.0, time.monotonic())
        assert _wait_result(imd) == "valid"
        sim.resistance_ohm = 20e3  # the cable's insulation degrades while charging
        end = time.monotonic() + 10
        while imd.poll(time.monotonic()).level != "fault":
            assert time.monotonic() < end, "fault never reported"
            time.sleep(0.05)
    finally:
        imd.close()
        sim.close()


def test_isocha425_device_error_is_invalid(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    sim = ImdSimulator(master, unit=3, measure_s=0.3)
    sim.device_error = True
    imd = IsoCha425(ModbusRtuClient(path, 19200, parity="E", timeout=0.5),
                    IsolationConfig(unit=3), poll_interval_s=0.05)
    try:
        imd.start(500.0, time.monotonic())
        assert _wait_result(imd) == "invalid"
    finally:
        imd.close()
        sim.close()


def test_silent_imd_is_invalid_not_a_hang(pty_pair: tuple[int, str]) -> None:
    _master, path = pty_pair  # nobody answers on the master side
    imd = IsoCha425(ModbusRtuClient(path, 19200, parity="E", timeout=0.1),
                    IsolationConfig(unit=3), poll_interval_s=0.05)
    try:
        imd.start(500.0, time.monotonic())
        assert _wait_result(imd) == "invalid"
        assert imd.error is not None and "no answer" in imd.error
    finally:
        imd.close()


async def test_rtu_client_in_a_thread(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    sim = ImdSimulator(master, unit=3)
    client = ModbusRtuClient(path, 19200, parity="E")
    try:
        await asyncio.to_thread(client.write, 3, 3026, [1])
        regs = await asyncio.to_thread(client.read, 3, "holding", 1000, 4)
        assert len(regs) == 4
        with pytest.raises(ModbusError, match="illegal data address"):
            await asyncio.to_thread(client.read, 3, "holding", 4242, 2)
    finally:
        client.close()
        sim.close()
