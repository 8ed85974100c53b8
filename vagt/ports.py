"""Spare ports on this machine, for tools that start servers (the benchmarks' stacks,
the tests' receivers and processes)."""

import random
import socket
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on now, for a server started later."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different ports nothing listens on now, picked below the range the
    kernel hands out to outgoing connections: a port from that range can be taken by
    any client's connection before the server that was to use it binds it."""
    low = _ephemeral_low()
    probes: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", _PICK.randrange(_LOWEST, low) if low > _LOWEST else 0))
            except OSError:
                probe.close()
                continue
            probes.append(probe)
            ports.append(probe.getsockname()[1])
        return ports
    finally:
        for probe in probes:
            probe.close()


_LOWEST = 10_000
_PICK = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default
