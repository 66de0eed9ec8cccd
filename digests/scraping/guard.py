"""Which addresses a fetch of a source URL may connect to (server-side request forgery).

A source URL is typed by an admin, and a source can redirect anywhere: left unchecked, a feed
that redirects to an internal service gets that service's answer published on the public
opportunities page, and the fetch errors map the internal network. So every host is resolved
by us (the first request and every redirect), every address it resolves to is checked, and
the connection goes to an address we checked (no second lookup a rebinding DNS could answer
differently). Refusals name the rule, never the address.
"""

import ipaddress
from collections.abc import Iterable

# (attribute of ipaddress's address objects, the rule's name in errors), checked in order.
RULES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings ("10.1.2.0/24") as networks; ValueError names the first bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


def address_refusal(address: str, *, allow_private: bool, allowed: tuple[Network, ...] = ()):
    """The rule `address` breaks ("loopback", "private", ...), or None if it may be fetched."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    # ::ffff:127.0.0.1 is 127.0.0.1.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private or any(ip in network for network in allowed):
        return None
    for attribute, rule in RULES:
        if getattr(ip, attribute):
            return rule
    if not ip.is_global:  # shared address space (100.64.0.0/10) and the like
        return "not globally routable"
    return None
