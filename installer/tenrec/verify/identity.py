"""Keystone: a token, and a catalog whose endpoints answer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import Any

import requests

from tenrec.verify.core import Check, CheckFailed, Context, Family, one_line
from tenrec.verify.patience import scaled

SERVICE = "keystone"
TOKEN = "identity/token"
INTERFACES = ("public", "internal", "admin")
# Seconds an endpoint may take to answer an unauthenticated GET.
PROBE_TIMEOUT = 10


def _access(ctx: Context) -> Any:
    session = ctx.conn.session
    return session.auth.get_access(session)


def token(ctx: Context) -> str:
    ctx.conn.authorize()
    return token_detail(_access(ctx))


def token_detail(access: Any) -> str:
    """Whose token (a keystoneauth AccessInfo) for which project, and until when."""
    expires = access.expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"project {access.project_name} (domain {access.project_domain_name}), "
        f"user {access.username}, expires {expires}"
    )


def probe(url: str, *, verify: bool | str = True, cert: Any = None, timeout: float = PROBE_TIMEOUT) -> int | str:
    """The HTTP status of an unauthenticated GET of url, or why there was none."""
    try:
        response = requests.get(url, timeout=scaled(timeout), verify=verify, cert=cert, allow_redirects=False)
    except requests.RequestException as error:
        return one_line(f"{type(error).__name__}: {error}", 200)
    return response.status_code


def judge_endpoints(
    service_type: str,
    endpoints: Iterable[tuple[str, str]],
    *,
    verify: bool | str = True,
    cert: Any = None,
    timeout: float = PROBE_TIMEOUT,
) -> str:
    """Every interface present and every URL answering below 500: the detail, else CheckFailed saying what not.

    endpoints: (interface, url) pairs from the catalog, for one service type and region.
    """
    interfaces: dict[str, list[str]] = {}  # url -> its interfaces, in catalog order
    for interface, url in endpoints:
        interfaces.setdefault(url, []).append(interface.removesuffix("URL"))
    present = {interface for found in interfaces.values() for interface in found}
    problems = [f"no {interface} endpoint" for interface in INTERFACES if interface not in present]
    answers: list[str] = []
    for url, found in interfaces.items():
        status = probe(url, verify=verify, cert=cert, timeout=timeout)
        if isinstance(status, str) or status >= 500:
            problems.append(f"{'/'.join(found)} {url}: {status if isinstance(status, str) else f'HTTP {status}'}")
        else:
            answers.append(f"{'/'.join(found)} {url} {status}")
    if problems:
        raise CheckFailed("; ".join(problems))
    return "; ".join(answers)


def catalog_endpoints(catalog: Any, service_type: str, region: str | None) -> list[tuple[str, str]]:
    """(interface, url) of every endpoint of service_type in region, from a keystoneauth service catalog."""
    data = catalog.get_endpoints_data(service_type=service_type, region_name=region)
    return [(endpoint.interface, endpoint.url) for found in data.values() for endpoint in found]


def endpoints_check(service_type: str, service: str) -> Check:
    """The row for one service type in the catalog (run only when that service is deployed)."""

    def check(ctx: Context) -> str:
        region = ctx.conn.config.region_name
        pairs = catalog_endpoints(_access(ctx).service_catalog, service_type, region)
        if not pairs:
            raise CheckFailed(f"the catalog has no {service_type} endpoint in region {region}")
        session = ctx.conn.session
        return judge_endpoints(service_type, pairs, verify=session.verify, cert=session.cert)

    return Check(f"identity/endpoints/{service_type}", service, check, needs=(TOKEN,))


FAMILY = Family(SERVICE, ("identity",), (Check(TOKEN, SERVICE, token),))
