"""The broker used by the tests is the product's own local broker runner."""

from josev.localbroker import Broker, free_port

__all__ = ["Broker", "free_port"]
