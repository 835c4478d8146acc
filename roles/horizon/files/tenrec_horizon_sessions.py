"""Horizon's sessions in memcached, with a clear answer when no memcached stores them.

Django's cache sessions try 10000 new keys when the cache refuses one (a silent cache cannot
tell a collision from an outage), then raise RuntimeError: with every memcached down a sign-in
spins, then fails with HTTP 500. Here a key is tried three times; after that the session is
marked and SessionStoreMiddleware answers the request with HTTP 503 and what to fix. Pages that
only read sessions keep working: an unreachable memcached reads as an empty one (ignore_exc).
"""

import logging
from collections.abc import Callable

from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import CreateError
from django.http import HttpRequest, HttpResponse

LOG = logging.getLogger(__name__)
ATTEMPTS = 3
UNAVAILABLE = (
    "Sign-in is unavailable: the dashboard keeps its sessions in memcached on the controllers, "
    "and no memcached stored this one. Start memcached (systemctl start memcached) and sign in again.\n"
)


class SessionStore(cache.SessionStore):
    store_unavailable = False

    def create(self) -> None:
        for _ in range(ATTEMPTS):
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        # Not stored: no key for the cookie, and no further attempt in this request.
        LOG.error("no memcached of CACHES['default'] stored a new session: sessions are unavailable")
        self._session_key = None
        self.store_unavailable = True

    def save(self, must_create: bool = False) -> None:
        if self.store_unavailable:
            return
        super().save(must_create=must_create)


class SessionStoreMiddleware:
    """Below Django's SessionMiddleware: a response whose session could not be stored is a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(getattr(request, "session", None), "store_unavailable", False):
            return HttpResponse(UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
        return response
