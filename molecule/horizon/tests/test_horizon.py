"""Horizon next to Keystone: uWSGI on port 80 serving the pages and their static files, the
settings readable by horizon only, a sign-in that lands on the dashboard, and a dead memcached
that makes sign-in an HTTP 503 saying what to start (not an HTTP 500) while pages still load."""

from tests.node_checks import assert_running

ADDRESS = "10.201.18.11"
PYTHON = "/opt/openstack/openstackclient/bin/python"

# Signs in as the operator of clouds.yaml the way a browser does: the login form's fields
# (its CSRF token and hidden region included), then the page after it. Prints
# "STATUS LOCATION" of the sign-in and "STATUS" of the identity page.
SIGN_IN = """
import html.parser, sys
import openstack.config, requests

class Form(html.parser.HTMLParser):
    fields = {}
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

root = sys.argv[1]
auth = openstack.config.OpenStackConfig().get_one("tenrec").auth
session = requests.Session()
page = session.get(root + "/auth/login/", timeout=30)
form = Form()
form.feed(page.text)
fields = dict(form.fields, username=auth["username"], password=auth["password"])
answer = session.post(root + "/auth/login/", data=fields, headers={"Referer": root + "/auth/login/"},
                      allow_redirects=False, timeout=60)
print(answer.status_code, answer.headers.get("Location", "-"))
if answer.status_code == 503:
    print(answer.text.strip())
else:
    print(session.get(root + "/identity/", timeout=60).status_code)
"""


def sign_in(host):
    host.check_output(f"cat > /tmp/sign_in.py <<'EOF'\n{SIGN_IN}\nEOF")
    return host.check_output(f"{PYTHON} /tmp/sign_in.py http://{ADDRESS}").splitlines()


def test_uwsgi_serves_the_dashboard_on_port_80(host):
    assert_running(host, "horizon")
    assert host.socket(f"tcp://{ADDRESS}:80").is_listening


def test_settings_readable_by_horizon_only(host):
    for name in ("local_settings.py", "tenrec_horizon_sessions.py", "_0100_tenrec_sessions.py"):
        conf = host.file(f"/etc/horizon/{name}")
        assert (conf.user, conf.group, conf.mode) == ("root", "horizon", 0o640), name
    assert "SECRET_KEY" in host.file("/etc/horizon/local_settings.py").content_string


def test_the_login_page_and_its_compressed_static_files_load(host):
    page = host.check_output(f"curl -sSf http://{ADDRESS}/auth/login/")
    assert 'name="password"' in page
    css = [part.split('"')[0] for part in page.split('href="/static/dashboard/css/')[1:]]
    assert css, "the login page links no compressed stylesheet"
    headers = host.check_output(f"curl -sSfI http://{ADDRESS}/static/dashboard/css/{css[0]}")
    assert "Expires:" in headers or "expires:" in headers


def test_a_sign_in_lands_on_the_dashboard(host):
    signed_in, identity = sign_in(host)
    status, location = signed_in.split()
    assert status == "302" and location != "/auth/login/", signed_in
    assert identity == "200"


def test_a_dead_memcached_makes_sign_in_a_clear_503_and_pages_still_load(host):
    host.check_output("systemctl stop memcached")
    try:
        answer = sign_in(host)
        assert answer[0].startswith("503 "), answer
        assert "memcached" in answer[1] and "systemctl start memcached" in answer[1]
        assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' http://{ADDRESS}/auth/login/") == "200"
    finally:
        host.check_output("systemctl start memcached")
    assert sign_in(host)[0].startswith("302 ")
