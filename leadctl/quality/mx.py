"""`leads verify --mx`: whether the leads' mail domains accept mail (their MX records), when the network allows.

The only part of the quality checks that uses the network; never run by tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..store.db import Store
from ..store.tables import LEADS

# Seconds to wait for one answer; the first lookup failing this way means no DNS at all.
TIMEOUT = 3.0


@dataclass
class MxResult:
    """Domains looked up, those without a working MX record (domain, leads, why), or why none could be."""

    checked: int = 0
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    offline: str = ""


def check_mx_records(store: Store) -> MxResult:
    """Look up the MX record of every mail domain the leads use (free-mail domains are known good)."""
    import dns.exception
    import dns.resolver

    from ..dedupe.finder import free_mail_domains

    t = LEADS
    with store.connect() as conn:
        domains = [(d, n) for d, n in conn.execute(
            select(t.c.email_domain, func.count()).where(t.c.email_domain.is_not(None), t.c.erased_at.is_(None))
            .group_by(t.c.email_domain)) if d and d.casefold() not in free_mail_domains()]
    result = MxResult()
    try:
        resolver = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        result.offline = "no DNS resolver is configured on this machine"
        return result
    resolver.lifetime = TIMEOUT
    for domain, leads in sorted(domains):
        try:
            resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN:
            result.problems.append((domain, leads, "the domain does not exist"))
        except dns.resolver.NoAnswer:
            result.problems.append((domain, leads, "no MX record"))
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            if result.checked == 0:  # the very first lookup: no usable DNS, not a bad domain
                result.offline = f"no DNS server answered ({type(exc).__name__}); is the network reachable?"
                return result
            result.problems.append((domain, leads, "the lookup failed"))
        result.checked += 1
    return result
