"""Where callbacks and user replies may be POSTed: never into the mock itself.

Checked at acceptance (the URL as written, no DNS look-up) and again before every attempt
(report, batch, inbound reply, redelivery, a delivery restored from the store), then with the
host's addresses resolved, so a name that points back at the mock is caught too:
- never the mock's own listening port on a loopback, unspecified or own address;
- never a link-local address (169.254.0.0/16, fe80::/10), which includes the cloud metadata
  service, nor the metadata host names;
- loopback only when `callback_block_loopback` is off (the default: local receivers are the
  common case);
- with `callback_allowed_hosts` set, only those hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
DNS_TTL = 60.0  # seconds a host's resolved addresses (and a URL's verdict) are reused
MAX_VERDICTS = 10_000  # URLs whose verdict is kept; past that the cache starts over
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def host_allowed(host: str, rule: str) -> bool:
    """`rule` is a host name, or `*.domain` for its subdomains."""
    host, rule = host.lower(), rule.lower()
    if rule.startswith("*."):
        return host.endswith(rule[1:])
    return host == rule


class Destinations:
    def __init__(
        self,
        allowed_hosts: Sequence[str],
        own_port: int,
        own_host: str,
        block_loopback: bool,
    ) -> None:
        self.allowed_hosts = list(allowed_hosts)
        self.own_port = own_port
        self.own_host = own_host.lower()
        self.block_loopback = block_loopback
        self._resolved: dict[str, tuple[float, list[IpAddress]]] = {}
        self._verdicts: dict[str, tuple[float, str | None]] = {}  # per URL, for DNS_TTL

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be POSTed to, from the URL alone; None when it may."""
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return "not a well-formed URL"
        port = port or (443 if parts.scheme == "https" else 80)
        if self.allowed_hosts and not any(host_allowed(host, r) for r in self.allowed_hosts):
            return f"host {host} is not in callback_allowed_hosts"
        if host in METADATA_HOSTS:
            return f"{host} is a cloud metadata host"
        if host in LOOPBACK_NAMES or host == self.own_host:
            return self._address_refusal(ipaddress.ip_address("127.0.0.1"), port, host)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked before each attempt
        return self._address_refusal(address, port, host)

    async def refusal_resolved(self, url: str) -> str | None:
        """`refusal`, then the same rules for every address the host resolves to (cached; a
        host that does not resolve is left to the attempt, which then fails)."""
        cached = self._verdicts.get(url)
        if cached is not None and time.monotonic() - cached[0] < DNS_TTL:
            return cached[1]
        reason = await self._refusal_resolved(url)
        if len(self._verdicts) >= MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[url] = (time.monotonic(), reason)
        return reason

    async def _refusal_resolved(self, url: str) -> str | None:
        reason = self.refusal(url)
        if reason is not None:
            return reason
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for address in await self._addresses(host):
            reason = self._address_refusal(address, port, host)
            if reason is not None:
                return reason
        return None

    def unresolvable(self, url: str) -> bool:
        """Whether the host's last look-up (within DNS_TTL) found no address."""
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return False
        cached = self._resolved.get(host)
        return cached is not None and not cached[1] and time.monotonic() - cached[0] < DNS_TTL

    def _address_refusal(self, address: IpAddress, port: int, host: str) -> str | None:
        if address.is_link_local:
            return f"{host} is a link-local address (cloud metadata lives there)"
        local = address.is_loopback or address.is_unspecified
        if local and port == self.own_port:
            return f"{host}:{port} is the mock's own address"
        if address.is_loopback and self.block_loopback:
            return f"{host} is a loopback address (callback_block_loopback)"
        return None

    async def _addresses(self, host: str) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        cached = self._resolved.get(host)
        if cached is not None and time.monotonic() - cached[0] < DNS_TTL:
            return cached[1]
        addresses = await system_lookup(host)
        self._resolved[host] = (time.monotonic(), addresses)
        return addresses


async def system_lookup(host: str) -> list[IpAddress]:
    """The host's addresses from the system resolver; none when it does not resolve. (The
    project's tests replace it, so that no DNS query leaves the machine.)"""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    except (OSError, ValueError):
        return []
