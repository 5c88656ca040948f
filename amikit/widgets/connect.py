"""ConnectPanel: log in to an AMI server from a form, with errors in plain words."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from amikit.client import AMIClient
from amikit.errors import AMIError, AuthenticationError, ConnectionLost, HTTPStatusError, NoBanner
from amikit.session import AUTHS

__all__ = ["ConnectPanel", "explain"]


def _kind(url: str) -> str:
    return "tcp" if url.strip().lower().startswith("tcp://") else "http"


def explain(error: BaseException, url: str) -> str:
    """What a connection error means, and what to change, in plain words.

        >>> from amikit.errors import ConnectionLost
        >>> explain(ConnectionLost("refused"), "tcp://127.0.0.1:5038")[:50]
        'Nothing answers at tcp://127.0.0.1:5038: is Asteri'
    """
    url = html.escape(url)
    if isinstance(error, AuthenticationError):
        return ("The server refused this username or secret. Check the user's section and its "
                "<code>secret</code> in manager.conf.")
    if isinstance(error, HTTPStatusError) and error.status_code == 404:
        return (f"{url} answers, but HTTP AMI is off there (or the prefix is wrong). Set "
                "<code>enabled = yes</code> and <code>webenabled = yes</code> in manager.conf's "
                "[general], <code>enabled = yes</code> in http.conf, then <code>manager reload</code>"
                " and <code>module reload http</code>.")
    if isinstance(error, NoBanner):
        return (f"Something answers at {url}, but not AMI: the TCP port is manager.conf's "
                "<code>port</code> (5038 unless changed), not HTTP's 8088.")
    if isinstance(error, ConnectionLost) and _kind(url) == "tcp":
        return (f"Nothing answers at {url}: is Asterisk running, with <code>enabled = yes"
                "</code> in manager.conf's [general] and its <code>port</code>/"
                "<code>bindaddr</code> matching this URL?")
    if isinstance(error, ConnectionLost):
        return (f"Nothing answers at {url}: is Asterisk running, with http.conf "
                "<code>bindaddr</code>/<code>bindport</code> matching this URL?")
    return html.escape(str(error))


class ConnectPanel(w.VBox):
    """Base URL, username, secret, encoding and auth; shows the server once connected.

    The URL may be HTTP's (``http://127.0.0.1:8088``) or AMI's TCP port
    (``tcp://127.0.0.1:5038``); the Auth choices follow it (cookie or digest; plain or md5),
    and Encoding is rawman over TCP.

    ``panel.client`` is the connected :class:`~amikit.AMIClient` (None before), and each
    function added with ``on_connect`` is called with it.

    Given ``client=`` (an :class:`~amikit.AMIClient`, e.g. ``find_pbx().client()``), the
    form starts from its URL, user, encoding and auth, and while the Secret field is left
    empty for that URL and user, Connect logs in a :meth:`~amikit.AMIClient.clone` of it:
    the secret is used without being read back or shown in the form.
    """

    def __init__(self, url: str = "http://127.0.0.1:8088", username: str = "",
                 secret: str = "", *, client: AMIClient | None = None) -> None:
        self._template = client
        if client is not None:
            url, username = client.url, client.username
        self.url = w.Text(value=url, description="URL")
        self.username = w.Text(value=username, description="Username")
        self.secret = w.Password(value=secret, description="Secret",
                                 placeholder="the client's" if client is not None else "")
        self.encoding = w.Dropdown(options=["rawman", "mxml"],
                                   value=client.encoding if client is not None else "rawman",
                                   description="Encoding")
        self.auth = w.Dropdown(options=list(AUTHS[_kind(url)]),
                               value=client.auth if client is not None else AUTHS[_kind(url)][0],
                               description="Auth")
        self.button = w.Button(description="Connect", button_style="primary", icon="plug")
        self.status = w.HTML()
        self.client: AMIClient | None = None
        self.permitted: list[str] = []
        self._callbacks: list[Callable[[AMIClient], None]] = []
        self.button.on_click(lambda _: self.connect())
        self.url.observe(lambda _: self._follow_url(), "value")
        self._follow_url()
        super().__init__([self.url, self.username, self.secret, self.encoding, self.auth,
                          self.button, self.status])

    def _follow_url(self) -> None:
        """Offer the auth choices of the URL's kind; TCP has one encoding."""
        choices = list(AUTHS[_kind(self.url.value)])
        if list(self.auth.options) != choices:
            self.auth.options = choices
            self.auth.value = choices[0]
        if _kind(self.url.value) == "tcp":
            self.encoding.value = "rawman"
        self.encoding.disabled = _kind(self.url.value) == "tcp"

    def on_connect(self, callback: Callable[[AMIClient], None]) -> None:
        self._callbacks.append(callback)

    def connect(self) -> AMIClient | None:
        """Log in with the form's values; returns the client, or None (error shown)."""
        template, url = self._template, self.url.value.strip()
        if (template is not None and not self.secret.value
                and (url, self.username.value) == (template.url, template.username)):
            client = template.clone(encoding=self.encoding.value, auth=self.auth.value)
        else:
            try:
                client = AMIClient(url, self.username.value, self.secret.value,
                                   encoding=self.encoding.value, auth=self.auth.value)
            except ValueError as error:  # a URL the client cannot use
                self.status.value = (f"<b style='color:#D55E00'>Not connected.</b> "
                                     f"{html.escape(str(error))}")
                return None
        try:
            client.login()
            settings = client.action("CoreSettings", check=False)
            self.permitted = sorted(client.list_commands())
        except AMIError as error:
            client.close()
            self.status.value = f"<b style='color:#D55E00'>Not connected.</b> " \
                                f"{explain(error, self.url.value)}"
            return None
        if self.client is not None:
            self.client.close()
        self.client = client
        version = settings.get("AsteriskVersion", "unknown")
        self.status.value = (f"<b style='color:#009E73'>Connected</b> to Asterisk {version} as "
                             f"{self.username.value!s}; {len(self.permitted)} actions allowed: "
                             f"{', '.join(self.permitted[:12])}{' …' if len(self.permitted) > 12 else ''}")
        for callback in self._callbacks:
            callback(client)
        return client
