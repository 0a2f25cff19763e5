"""Per-interface counters of a container's network namespace, read over rtnetlink with pyroute2.

The netlink socket is opened by a short-lived thread that enters the container's namespace
(setns moves only the calling thread) and ends there, so no thread of the sensor ever runs in a
namespace not its own and nothing forks. A socket stays bound to the namespace it was made in.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from pathlib import Path

from pyroute2 import IPRoute

from sensor.model.stats.sample import InterfaceStats, NetworkStats

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def namespace_inode(pid: int | str, proc: Path = Path("/proc")) -> int:
    """The inode that names a process's network namespace. Raises OSError."""
    return os.stat(proc / str(pid) / "ns" / "net").st_ino


def _netlink_socket_in(namespace: Path) -> socket.socket:
    """A NETLINK_ROUTE socket bound to the namespace at ``namespace`` (a /proc/<pid>/ns/net). Raises OSError."""
    made: list[socket.socket] = []
    failed: list[OSError] = []

    def enter_and_open() -> None:
        try:
            fd = os.open(namespace, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"cannot enter the network namespace: {os.strerror(errno)}")
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE))
        except OSError as error:
            failed.append(error)

    thread = threading.Thread(target=enter_and_open, name="sensor-netns")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


def _interfaces(sock: socket.socket) -> tuple[InterfaceStats, ...]:
    found = []
    with IPRoute(fileno=sock.detach()) as rtnl:
        for link in rtnl.get_links():
            counters = link.get_attr("IFLA_STATS64") or link.get_attr("IFLA_STATS") or {}
            found.append(
                InterfaceStats(
                    name=link.get_attr("IFLA_IFNAME") or f"if{link['index']}",
                    rx_bytes=counters.get("rx_bytes", 0),
                    tx_bytes=counters.get("tx_bytes", 0),
                    rx_packets=counters.get("rx_packets", 0),
                    tx_packets=counters.get("tx_packets", 0),
                )
            )
    return tuple(sorted(found, key=lambda i: i.name))


def read_network(pid: int, proc: Path = Path("/proc")) -> NetworkStats:
    """The interfaces of ``pid``'s network namespace; just ``host_network`` when it is the sensor's own.

    Raises OSError (the process is gone, or the namespace cannot be entered).
    """
    if namespace_inode(pid, proc) == namespace_inode("self", proc):
        return NetworkStats(host_network=True)
    return NetworkStats(host_network=False, interfaces=_interfaces(_netlink_socket_in(proc / str(pid) / "ns" / "net")))
