"""Card readers: PN532 over UART, keyboard-style USB readers through evdev, the simulator."""

from josev_hal.rfid.base import CardReader, CardTap

__all__ = ["CardReader", "CardTap"]
