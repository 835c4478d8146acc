"""Horizon: the admin logs in through the login form as a browser does, the pages of the
deployed services render, their static files are served, and logging out ends the session.

dashboard/login GETs the login page, POSTs its form (with its CSRF token) with the operator's
credentials, lands on a page that offers to sign out, fetches the stylesheets that page links
(compressed at deploy time), then signs out and checks that the session no longer opens a
page. dashboard/pages opens the overview and the pages of the optional services deployed
(volumes, containers, stacks). dashboard/instances runs among compute's checks, while
compute/boot's server exists: the instances page lists it.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.patience import scaled

SERVICE = "horizon"
LOGIN = "dashboard/login"
PAGES = "dashboard/pages"
INSTANCES = "dashboard/instances"

HTTP_TIMEOUT = 60
LOGIN_PATH = "/auth/login/"
LOGOUT_PATH = "/auth/logout/"
# The pages an operator opens first, per service deployed: (path, what the page's title says).
SERVICE_PAGES: tuple[tuple[str, str, str], ...] = (
    ("nova", "/project/", "Overview"),
    ("cinder", "/project/volumes/", "Volumes"),
    ("swift", "/project/containers/", "Containers"),
    ("heat", "/project/stacks/", "Stacks"),
    ("neutron", "/project/network_topology/", "Network Topology"),
)
_STYLESHEET = re.compile(r"""<link[^>]+href=['"](/static/[^'"]+\.css)['"]""")
_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.S)


class FormInputs(HTMLParser):
    """The named inputs of the first form whose action ends with `action`."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.found = False
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and not self.found and values.get("action", "").endswith(self.action):
            self.inside = self.found = True
        elif tag == "input" and self.inside and values.get("name"):
            self.inputs[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def dashboard_url(ctx: Context) -> str:
    """Horizon is not in the catalog: it answers on the config's public endpoint, port 80."""
    if ctx.config is None:
        raise SkipCheck("the dashboard's address comes from the deployment's config (not given with --os-cloud)")
    return f"http://{ctx.config.endpoint}"


def title(page: requests.Response) -> str:
    found = _TITLE.search(page.text)
    return found.group(1) if found else "(no title)"


def login(ctx: Context) -> tuple[requests.Session, requests.Response]:
    """A session logged in through the form, and the page it landed on."""
    root = dashboard_url(ctx)
    auth = ctx.conn.config.auth
    session = requests.Session()
    form_page = session.get(root + LOGIN_PATH, timeout=scaled(HTTP_TIMEOUT))
    if form_page.status_code != 200:
        raise CheckFailed(f"GET {root}{LOGIN_PATH}: HTTP {form_page.status_code} {one_line(form_page.text, 200)}")
    parser = FormInputs(LOGIN_PATH)
    parser.feed(form_page.text)
    if "csrfmiddlewaretoken" not in parser.inputs or "username" not in parser.inputs:
        raise CheckFailed(f"{root}{LOGIN_PATH} ({title(form_page)}) has no login form with a CSRF token")
    fields = {**parser.inputs, "username": auth["username"], "password": auth["password"]}
    if "domain" in fields:
        fields["domain"] = auth.get("user_domain_name") or "Default"
    landed = session.post(
        root + LOGIN_PATH, data=fields, headers={"Referer": root + LOGIN_PATH}, timeout=scaled(HTTP_TIMEOUT)
    )
    if landed.status_code != 200 or urlsplit(landed.url).path == LOGIN_PATH or LOGOUT_PATH not in landed.text:
        raise CheckFailed(
            f"logging in as {auth['username']}: HTTP {landed.status_code} at {landed.url} ({title(landed)}), "
            "no way to sign out: the login did not take (memcached, Keystone or the SECRET_KEY)"
        )
    return session, landed


def logout(ctx: Context, session: requests.Session, page: requests.Response) -> None:
    """Sign out as the page's user menu does: POST its form, with its CSRF token."""
    root = dashboard_url(ctx)
    parser = FormInputs(LOGOUT_PATH)
    parser.feed(page.text)
    token = parser.inputs.get("csrfmiddlewaretoken") or session.cookies.get("csrftoken", "")
    session.post(
        root + LOGOUT_PATH,
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": page.url},
        timeout=scaled(HTTP_TIMEOUT),
    )


def stylesheets(root: str, page: requests.Response) -> str:
    """Each stylesheet the page links is served (the offline-compressed CSS): its summary."""
    links = sorted(set(_STYLESHEET.findall(page.text)))
    if not links:
        raise CheckFailed(f"{page.url} links no stylesheet under /static/: the static files are missing")
    total = 0
    for link in links:
        answer = requests.get(urljoin(root, link), timeout=scaled(HTTP_TIMEOUT))
        if answer.status_code != 200 or "css" not in answer.headers.get("Content-Type", ""):
            raise CheckFailed(
                f"GET {link}: HTTP {answer.status_code} {answer.headers.get('Content-Type')} (static files not served)"
            )
        total += len(answer.content)
    return f"{len(links)} stylesheet(s), {total // 1024} KiB"


def login_check(ctx: Context) -> str:
    started = time.monotonic()
    root = dashboard_url(ctx)
    session, landed = login(ctx)
    logged_in = time.monotonic() - started
    served = stylesheets(root, landed)
    logout(ctx, session, landed)
    after = session.get(root + "/project/", timeout=scaled(HTTP_TIMEOUT))
    if urlsplit(after.url).path != LOGIN_PATH:
        raise CheckFailed(f"after signing out, /project/ still opens ({after.url}, {title(after)})")
    return (
        f"{root}: {ctx.conn.config.auth['username']} logged in after {logged_in:.1f}s, landed on "
        f"{urlsplit(landed.url).path} ({title(landed)}); {served}; signed out"
    )


def pages(ctx: Context) -> str:
    from tenrec.verify import deployed_services  # noqa: PLC0415 (the package imports this module)

    root = dashboard_url(ctx)
    assert ctx.config is not None  # dashboard_url skipped otherwise
    services = deployed_services(ctx.config)
    session, landed = login(ctx)
    seen = []
    try:
        for service, path, wanted in SERVICE_PAGES:
            if service not in services:
                continue
            started = time.monotonic()
            page = session.get(root + path, timeout=scaled(HTTP_TIMEOUT))
            if page.status_code != 200 or wanted not in title(page):
                raise CheckFailed(f"GET {path}: HTTP {page.status_code} at {page.url}, title {title(page)!r}")
            seen.append(f"{path} {time.monotonic() - started:.1f}s")
    finally:
        logout(ctx, session, landed)
    return "; ".join(seen)


def instances(ctx: Context) -> str:
    from tenrec.verify import compute  # noqa: PLC0415 (compute's family imports this module)

    booted = ctx.scratch[compute.SERVER_KEY]
    session, landed = login(ctx)
    try:
        page = session.get(dashboard_url(ctx) + "/project/instances/", timeout=scaled(HTTP_TIMEOUT))
    finally:
        logout(ctx, session, landed)
    if page.status_code != 200:
        raise CheckFailed(f"GET /project/instances/: HTTP {page.status_code} ({title(page)})")
    if booted.name not in page.text or booted.server.id not in page.text:
        raise CheckFailed(f"the instances page ({title(page)}) does not list {booted.name} ({booted.server.id})")
    return f"/project/instances/ lists {booted.name}"


FAMILY = Family(
    SERVICE,
    (),
    (
        Check(LOGIN, SERVICE, login_check, needs=(TOKEN,)),
        Check(PAGES, SERVICE, pages, needs=(LOGIN,)),
    ),
)
