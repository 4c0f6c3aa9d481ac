"""Outgoing-webhook URL guard against server-side request forgery.

A URL is checked twice: when a webhook is saved (so obvious mistakes answer 400) and again at
every delivery, because DNS may answer differently later. At delivery the caller connects to the
address this module approved (pinned), never re-resolving in between.

Hosts are parsed by us, not by the resolver: inet_aton's legacy spellings (2130706433,
0x7f000001, 017700000001, 127.1) are normalised to an address and judged like any other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from ..errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> addresses; tests inject their own so they never touch real DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_CHARS = 2048
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog",
                             "instance-data", "instance-data.ec2.internal"})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA_NETS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::/32"))


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why (without echoing secrets)."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, with the address to connect to."""

    scheme: str
    host: str          # as written (normalised), for the Host header and TLS server name
    port: int
    address: str       # the approved IP to connect to
    path: str          # path + query, never empty


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton's forms: 1-4 parts, each decimal, octal (leading 0) or hex (0x)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    values = []
    for part in parts:
        p = part.lower()
        try:
            if p.startswith("0x"):
                values.append(int(p[2:] or "0", 16))
            elif len(p) > 1 and p.startswith("0"):
                values.append(int(p[1:], 8))
            else:
                if not p.isdigit():
                    return None
                values.append(int(p, 10))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def parse_literal(host: str) -> IPAddress | None:
    """The address a host names literally (any spelling), or None for a DNS name."""
    host = host.strip("[]")
    if "%" in host:  # zone ids are never acceptable in a webhook URL
        raise UnsafeUrl("IPv6 zone identifiers are not allowed")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    return _legacy_ipv4(host)


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why this address may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address.sixtofour is not None or address.teredo is not None:
            return "IPv4-mapped or tunnelled IPv6 addresses are not allowed"
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return "NAT64 addresses are not allowed"
    if address.is_loopback:
        return None if allow_loopback else "loopback addresses are not allowed"
    if any(address in net for net in _METADATA_NETS):
        return "cloud metadata addresses are not allowed"
    if address.is_unspecified:
        return "the unspecified address is not allowed"
    if address.is_multicast:
        return "multicast addresses are not allowed"
    if address.is_link_local:
        return "link-local addresses are not allowed"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (CGNAT) addresses are not allowed"
    if address.is_private:
        return "private addresses are not allowed"
    if address.is_reserved or not address.is_global:
        return "reserved addresses are not allowed"
    return None


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an http(s) URL without userinfo."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_CHARS:
        raise UnsafeUrl(f"url must be 1-{MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise UnsafeUrl("url must not contain whitespace, control characters or backslashes")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("url must use http or https")
    if "@" in parts.netloc:
        raise UnsafeUrl("url must not contain credentials (user@host)")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("url has an invalid port") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("url must name a host")
    if host in _METADATA_HOSTS:
        raise UnsafeUrl("cloud metadata hosts are not allowed")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path


async def check(url: str, *, allow_loopback: bool, resolver: Resolver | None = None) -> Target:
    """Resolves and approves `url`; raises UnsafeUrl. Every resolved address must pass, so a
    name answering one public and one private address is refused."""
    scheme, host, port, path = split_url(url)
    literal = parse_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
        host = str(literal) if literal.version == 4 else f"[{literal}]"
    else:
        if host == "localhost" or host.endswith(".localhost"):
            if not allow_loopback:
                raise UnsafeUrl("loopback addresses are not allowed")
        try:
            answers = await (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as err:
            raise UnsafeUrl(f"host could not be resolved: {host}") from err
        addresses = []
        for answer in answers:
            try:
                addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
            except ValueError:
                raise UnsafeUrl("host resolved to an invalid address") from None
        if not addresses:
            raise UnsafeUrl(f"host could not be resolved: {host}")
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason:
            raise UnsafeUrl(reason)
    return Target(scheme, host, port, str(addresses[0]), path)


def check_static(url: str, *, allow_loopback: bool) -> None:
    """What can be judged without DNS: the URL's form, literal addresses in any spelling and the
    localhost names. For URLs saved on a hot path (a job's completion_webhook), where a
    resolver round trip per request is too dear; delivery still runs the full `check`."""
    _, host, _, _ = split_url(url)
    literal = parse_literal(host)
    if literal is not None:
        reason = refusal(literal, allow_loopback=allow_loopback)
        if reason:
            raise UnsafeUrl(reason)
    elif (host == "localhost" or host.endswith(".localhost")) and not allow_loopback:
        raise UnsafeUrl("loopback addresses are not allowed")


async def validate_for_save(url: str, *, allow_loopback: bool, resolver: Resolver | None = None,
                            field: str = "url") -> None:
    """400 VALIDATION_ERROR unless `url` is a safe webhook target right now."""
    try:
        await check(url, allow_loopback=allow_loopback, resolver=resolver)
    except UnsafeUrl as err:
        raise ValidationFailed("Validation failed",
                               [{"field": field, "message": str(err), "code": "unsafe_url"}]) from None
