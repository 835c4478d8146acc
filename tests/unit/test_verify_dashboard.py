"""The dashboard rows' reading of Horizon's pages (the markup is Horizon 27's own)."""

from __future__ import annotations

import pytest
import requests

from tenrec.verify import dashboard
from tenrec.verify.core import CheckFailed

# Horizon 27's login form, as /auth/login/ renders it (trimmed to the form).
LOGIN_PAGE = """<html><head><title>Login - OpenStack Dashboard</title>
<link rel="stylesheet" href="/static/dashboard/css/output.b597bc3299cf.css" type="text/css" media="screen">
<link rel="stylesheet" href="/static/dashboard/css/output.85d53898fd88.css" type="text/css">
</head><body>
<form id="" class="ng-pristine ng-valid ng-scope"
      method="POST"
      action="/auth/login/"
      autocomplete="off"
      ng-controller="hzLoginController">
  <input type="hidden" name="csrfmiddlewaretoken" value="GM09OnOBD7pU0wl7S933">
  <input type="text" name="fake_email" value="" autocomplete="new-password"/>
  <input type="password" name="fake_password" value="" autocomplete="new-password"/>
  <input type="hidden" name="region" value="default" id="id_region">
  <input type="text" name="username" autofocus="autofocus" maxlength="255" class="form-control" id="id_username">
  <input type="password" name="password" class="form-control" id="id_password">
  <button type="submit" class="btn btn-primary" id="loginBtn">Sign In</button>
</form>
<form method="post" action="/other/"><input type="hidden" name="other" value="x"></form>
</body></html>"""

# The user menu of a page after login.
USER_MENU = """<ul><li><form method="post" action="/auth/logout/">
<input type="hidden" name="csrfmiddlewaretoken" value="MENU-TOKEN">
<button type="submit" class="btn btn-link" target="_self">Sign Out</button></form></li></ul>"""


def test_the_login_form_inputs_are_read_with_their_hidden_values():
    parser = dashboard.FormInputs(dashboard.LOGIN_PATH)
    parser.feed(LOGIN_PAGE)
    assert parser.inputs == {
        "csrfmiddlewaretoken": "GM09OnOBD7pU0wl7S933",
        "fake_email": "",
        "fake_password": "",
        "region": "default",
        "username": "",
        "password": "",
    }


def test_the_sign_out_form_gives_its_token():
    parser = dashboard.FormInputs(dashboard.LOGOUT_PATH)
    parser.feed(LOGIN_PAGE + USER_MENU)
    assert parser.inputs == {"csrfmiddlewaretoken": "MENU-TOKEN"}


def page(text: str, url: str = "http://10.0.0.1/project/") -> requests.Response:
    answer = requests.Response()
    answer._content = text.encode()
    answer.status_code = 200
    answer.url = url
    return answer


def test_the_title_is_read_from_the_page():
    assert dashboard.title(page(LOGIN_PAGE)) == "Login - OpenStack Dashboard"
    assert dashboard.title(page("<p>no head</p>")) == "(no title)"


def test_a_page_without_stylesheets_fails_naming_the_static_files():
    with pytest.raises(CheckFailed, match="links no stylesheet under /static/"):
        dashboard.stylesheets("http://10.0.0.1", page("<html><head><title>x</title></head></html>"))
