"""Placement: the resource provider list answers."""

from __future__ import annotations

from tenrec.verify.core import Check, CheckFailed, Context, Family, one_line
from tenrec.verify.identity import TOKEN

SERVICE = "placement"


def providers(ctx: Context) -> str:
    response = ctx.conn.placement.get("/resource_providers")
    if response.status_code != 200:
        raise CheckFailed(f"GET /resource_providers: HTTP {response.status_code} {one_line(response.text, 200)}")
    count = len(response.json()["resource_providers"])
    return f"{count} resource provider(s)"


FAMILY = Family(SERVICE, ("placement",), (Check("placement/providers", SERVICE, providers, needs=(TOKEN,)),))
