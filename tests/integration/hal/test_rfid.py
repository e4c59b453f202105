"""Card readers on real file descriptors: PN532 on a pty, a keyboard-style reader on a FIFO."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from josev.api import models
from josev_hal.rfid.evdev import EvdevReaders, KeyAssembler, key_events
from josev_hal.rfid.pn532 import Pn532, Pn532Error, Pn532Reader, frame, parse_frame
from josev_hal.rfid.pn532sim import Pn532Simulator
from josev_hal.service import HalService
from tests.broker import Broker
from tests.integration.hal.conftest import hal_config, running_hal, wait_for


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_frame_codec() -> None:
    f = frame(0xD4, b"\x02")
    assert f.hex() == "0000ff02fed4022a00"  # GetFirmwareVersion, PN532 manual 7.2.2
    body, rest = parse_frame(f + b"\x00\x00")
    assert body == b"\xd4\x02" and rest == b"\x00\x00\x00"  # postamble left to skip
    assert parse_frame(bytes.fromhex("0000ff00ff00"))[0] == b""  # ACK
    with pytest.raises(Pn532Error, match="data checksum"):
        parse_frame(f[:-2] + b"\x00\x00")


def test_pn532_exchange(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    sim = Pn532Simulator(master)
    dev = Pn532(path)
    try:
        assert "firmware 1.6" in dev.setup()
        assert dev.poll() is None
        sim.present("04A1B2C3D4E5F6")
        assert dev.poll() == "04A1B2C3D4E5F6"
        sim.corrupt_next = True
        with pytest.raises(Pn532Error, match=r"checksum|no answer"):
            dev.poll()
    finally:
        dev.close()
        sim.close()


async def test_pn532_reader_yields_one_tap_per_presentation(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    sim = Pn532Simulator(master)
    reader = Pn532Reader(path, interval_s=0.02)
    taps: list[str] = []

    async def collect() -> None:
        async for tap in reader.taps():
            taps.append(tap.uid)

    task = asyncio.create_task(collect())
    try:
        sim.present("DEADBEEF")
        await wait_for(lambda: taps == ["DEADBEEF"], "first tap")
        await wait_for(lambda: sim.commands.count(0x4A) > 10, "card left on the reader")
        assert taps == ["DEADBEEF"]  # still lying there: not a second tap
        sim.present(None)
        await wait_for(lambda: sim.commands.count(0x4A) > 20, "card removed")
        sim.present("DEADBEEF")
        await wait_for(lambda: taps == ["DEADBEEF", "DEADBEEF"], "second presentation")
    finally:
        await reader.close()
        task.cancel()
        sim.close()


def test_key_assembler() -> None:
    k = KeyAssembler()
    data = key_events("04ab12")
    assert k.feed(data[:30]) == []
    assert k.feed(data[30:]) == ["04AB12"]
    assert k.feed(key_events("")) == []  # a bare Enter is no card


async def test_evdev_reader_and_hotplug_policy(tmp_path: Path) -> None:
    """A FIFO stands in for /dev/input/eventN: the kernel delivers the same struct bytes.
    udev cannot announce devices here (no udevd, no uinput), so the hot-plug policy is fed
    the add/remove events pyudev would report."""
    fifo = tmp_path / "event7"
    os.mkfifo(fifo)
    readers = EvdevReaders(device=None, name_contains="RFID")
    taps: list[str] = []

    async def collect() -> None:
        readers._start_udev = lambda: None  # type: ignore[method-assign]
        async for tap in readers.taps():
            taps.append(tap.uid)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)
    writer = os.open(fifo, os.O_RDWR)  # opened first so the reader's open does not block
    try:
        readers.on_udev("add", str(fifo), "Some Keyboard", keyboard=True)
        assert str(fifo) not in readers._open  # not a card reader by name
        readers.on_udev("add", str(fifo), "USB RFID Reader", keyboard=True)
        os.write(writer, key_events("0A1B2C3D"))
        await wait_for(lambda: taps == ["0A1B2C3D"], "tap")
        readers.on_udev("remove", str(fifo), "", keyboard=False)
        assert not readers._open
    finally:
        os.close(writer)
        await readers.close()
        await task


async def test_pn532_tap_reaches_josev_as_authorization(
    mosquitto: Broker, tmp_path: Path, pty_pair: tuple[int, str]
) -> None:
    master, path = pty_pair
    sim = Pn532Simulator(master)
    cfg = hal_config(mosquitto, tmp_path, evses=[{
        "rfid": {"backend": "linux", "readers": [{"kind": "pn532", "serial_port": path}]},
    }])
    got: list[models.AuthorizationRequest] = []

    async def authorize(req: models.AuthorizationRequest) -> models.AuthorizationResponse:
        got.append(req)
        return models.AuthorizationResponse(status="accepted")

    try:
        async with running_hal(HalService(cfg), mosquitto) as hal:
            hal.josev.on_request("authorization", authorize)
            sim.present("04112233445566")
            await wait_for(lambda: bool(got), "authorization request", timeout=15)
        assert got[0].id_token == "04112233445566" and got[0].evse_id == 1
    finally:
        sim.close()
