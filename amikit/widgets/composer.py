"""ActionComposer: pick an action, fill its form, see the exact request, send it."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

import ipywidgets as w

from amikit.actions import CATALOG, parse_command_help
from amikit.client import AMIClient
from amikit.errors import AMIError
from amikit.message import Message
from amikit.protocol import action_headers

__all__ = ["ActionComposer"]

_REPEATABLE = {"variable", "chanvariable"}


def _python(name: str, headers: dict[str, Any], variable: str = "ami") -> str:
    """The Python line that sends this action with a client named ``variable``."""
    helper = {"ping": "ping", "originate": "originate", "redirect": "redirect",
              "hangup": "hangup", "command": "command"}.get(name.lower())
    args = ", ".join(f"{k}={v!r}" for k, v in headers.items())
    if helper in ("ping", "originate", "redirect"):
        return f"{variable}.{helper}({args})"
    return f"{variable}.action({name!r}{', ' if args else ''}{args})"


#: Header names such as ``OtherChannelId`` do not fit ipywidgets' default label width.
_LABEL = {"description_width": "initial"}


class ActionComposer(w.VBox):
    """An action form built from the server's own documentation (or amikit's catalog).

    ``composer.send(name, **headers)`` does what the Send button does and returns the reply.
    """

    def __init__(self, client: AMIClient | None = None, *, variable: str = "ami") -> None:
        self.client = client
        self.variable = variable  # what copy-as-Python calls the client, as the notebooks do
        self.search = w.Text(placeholder="search actions", description="Action")
        self.actions = w.Select(rows=8)
        self.form = w.VBox()
        self.preview = w.HTML()
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.reply = w.HTML()
        self.raw = w.Accordion(children=[w.HTML()], titles=("Raw reply",))
        self.raw.selected_index = None
        self.history_box = w.Select(rows=5, description="History")
        self.resend = w.Button(description="Re-send", icon="redo")
        self.code = w.HTML()
        self.history: list[tuple[str, dict[str, Any]]] = []
        self.fields: dict[str, w.Text] = {}
        self.repeats: dict[str, w.VBox] = {}
        self.required: set[str] = set()
        self._all: list[str] = []
        self.search.observe(lambda _: self._filter(), "value")
        self.actions.observe(lambda change: self.choose(change["new"]), "value")
        self.send_button.on_click(lambda _: self._send_form())
        self.resend.on_click(lambda _: self._resend())
        self.history_box.observe(lambda _: self._show_code(), "value")
        super().__init__([self.search, self.actions, self.form, self.preview, self.send_button,
                          self.reply, self.raw, self.history_box, self.resend, self.code])
        self.use(client)

    def use(self, client: AMIClient | None) -> None:
        """Talk to ``client`` (its own action list); None falls back to amikit's catalog."""
        self.client = client
        names: list[str] = []
        if client is not None:
            try:
                names = sorted(client.list_commands())
            except AMIError:
                names = []
        self._all = names or sorted(spec.name for spec in CATALOG.values())
        self._filter()

    def _filter(self) -> None:
        text = self.search.value.lower()
        self.actions.options = [n for n in self._all if text in n.lower()]

    def _fields_for(self, name: str) -> list[tuple[str, bool]]:
        if self.client is not None:
            try:
                lines = self.client.command(f"manager show command {name}")
                found = parse_command_help(lines)
                if found:
                    return found
            except AMIError:
                pass  # no command class: fall back to the catalog
        spec = CATALOG.get(name.lower())
        if spec is None:
            return [("ActionID", False)]
        return [(h, h in spec.required) for h in spec.headers]

    def choose(self, name: str | None) -> None:
        """Show the form of action ``name``."""
        if not name:
            return
        self.current = name
        rows = []
        self.fields, self.repeats, self.required = {}, {}, set()
        for header, required in self._fields_for(name):
            label = f"{header}{' *' if required else ''}"
            if required:
                self.required.add(header)
            if header.lower() in _REPEATABLE:
                box = w.VBox([w.Text(description=label, style=_LABEL)])
                add = w.Button(description=f"+ {header}", layout=w.Layout(width="auto"))
                add.on_click(lambda _, b=box, lab=label: self._add_row(b, lab))
                self.repeats[header] = box
                rows.append(w.HBox([box, add]))
            else:
                field = w.Text(description=label, style=_LABEL)
                field.observe(lambda _: self._preview(), "value")
                self.fields[header] = field
                rows.append(field)
        self.form.children = rows
        self._preview()

    def _add_row(self, box: w.VBox, label: str) -> None:
        row = w.Text(description=label, style=_LABEL)
        row.observe(lambda _: self._preview(), "value")
        box.children = (*box.children, row)

    def headers(self) -> dict[str, Any]:
        """The form's headers (empty fields left out; repeated headers as lists)."""
        out: dict[str, Any] = {k: f.value for k, f in self.fields.items() if f.value.strip()}
        for name, box in self.repeats.items():
            values = [c.value for c in box.children if c.value.strip()]
            if values:
                out[name] = values
        return out

    def _preview(self) -> None:
        name = getattr(self, "current", None)
        if not name:
            return
        headers = self.headers()
        missing = [h for h in self.required if h not in headers]
        try:
            pairs = action_headers(name, headers)
        except AMIError as error:
            self.preview.value = f"<b style='color:#D55E00'>{html.escape(str(error))}</b>"
            return
        shown = Message(pairs).redacted().headers
        text = "".join(f"{n}: {v}\n" for n, v in shown) + "\n"
        endpoint = self.client.endpoint if self.client else "http://…/rawman"
        url = f"{endpoint}?{urlencode(shown)}"
        warn = (f"<div style='color:#D55E00'>required: {', '.join(sorted(missing))}</div>"
                if missing else "")
        self.preview.value = (f"{warn}<div>Request:</div><pre>{html.escape(text)}</pre>"
                              f"<div><code>{html.escape(url)}</code></div>")

    def send(self, name: str, **headers: Any) -> Message:
        """Send action ``name`` with ``headers``; shows and returns the reply."""
        if self.client is None:
            raise AMIError("the composer has no client: connect first")
        reply = self.client.action(name, check=False, **headers)
        self.history.append((name, headers))
        self.history_box.options = [f"{i + 1}. {n}" for i, (n, _) in enumerate(self.history)]
        table = reply._repr_html_() + "".join(e._repr_html_() for e in reply.events[:50])
        self.reply.value = table
        raw = "".join(f"{n}: {v}\n" for n, v in reply.redacted().headers)
        self.raw.children[0].value = f"<pre>{html.escape(raw)}</pre>"
        self.code.value = f"<pre>{html.escape(_python(name, headers, self.variable))}</pre>"
        return reply

    def _send_form(self) -> Message | None:
        missing = [h for h in self.required if h not in self.headers()]
        if missing:
            self.reply.value = (f"<b style='color:#D55E00'>Fill the required fields first: "
                                f"{', '.join(sorted(missing))}</b>")
            return None
        try:
            return self.send(self.current, **self.headers())
        except AMIError as error:
            self.reply.value = f"<b style='color:#D55E00'>{html.escape(str(error))}</b>"
            return None

    def _resend(self) -> Message | None:
        if not self.history:
            return None
        index = self.history_box.index if self.history_box.index is not None else -1
        name, headers = self.history[index]
        return self.send(name, **headers)

    def _show_code(self) -> None:
        if self.history_box.index is not None and self.history:
            name, headers = self.history[self.history_box.index]
            self.code.value = f"<pre>{html.escape(_python(name, headers, self.variable))}</pre>"
