"""The simulator's configuration, read from Asterisk's own file formats.

``manager.conf`` (users, httptimeout, timestampevents, and for TCP AMI enabled, port,
bindaddr, authtimeout, authlimit and each user's writetimeout), ``http.conf`` (bindaddr, bindport,
prefix, servername), ``extensions.conf`` (the dialplan), ``pjsip.conf`` (sections with
``type=endpoint``), ``queues.conf``, ``confbridge.conf`` and ``musiconhold.conf`` (kept as
sections; :mod:`amikit.sim.queue`, :mod:`amikit.sim.confbridge` and :mod:`amikit.sim.moh` read
them) and amikit's own ``sim.conf`` (how each simulated phone behaves). The
defaults ship in ``amikit/sim/defaults`` and reproduce the lab configuration of the
captures; a directory given with ``--config`` replaces any of them file by file.

What is not understood is an error naming the file and the line.
"""

from __future__ import annotations

import logging
import pathlib
from dataclasses import dataclass, field
from importlib import resources

from amikit.callfile import strip_comment
from amikit.errors import AMIError
from amikit.protocol import is_true
from amikit.sim.perms import parse_perms
from amikit.sim.replies import atoi

__all__ = ["ConfigError", "Endpoint", "Section", "SimConfig", "User", "load_config", "read_conf"]

FILES = ("manager.conf", "http.conf", "extensions.conf", "pjsip.conf", "sim.conf", "queues.conf",
         "confbridge.conf", "musiconhold.conf")
BEHAVIOURS = ("answer", "busy", "noanswer", "reject", "congestion")
WRITETIMEOUT = 100  # ms; __init_manager's user->writetimeout, build_mansession's too

log = logging.getLogger("amikit.sim")


class ConfigError(AMIError, ValueError):
    """A configuration file amikit cannot read; the text names the file and line."""


@dataclass
class Section:
    """One ``[name]`` section: its lines as ``(key, value, line number)``, in order."""

    name: str
    line: int
    items: list[tuple[str, str, int]] = field(default_factory=list)
    template: bool = False

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v, _ in reversed(self.items):
            if k.lower() == key.lower():
                return v
        return default


def read_conf(text: str, path: str = "<config>") -> list[Section]:
    """Sections of an Asterisk-style config file (``key = value`` and ``key => value``).

    Templates (``[name](!)``) are marked; ``[name](tmpl)`` copies ``tmpl``'s lines first.

        >>> [s.name for s in read_conf("[general]\\nenabled = yes\\n[hello]\\nsecret = world")]
        ['general', 'hello']
    """
    sections: list[Section] = []
    by_name: dict[str, Section] = {}
    current: Section | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw, hash_comments=False).strip()
        if not line:
            continue
        if line.startswith("["):
            name, close, rest = line[1:].partition("]")
            if not close or not name.strip():
                raise ConfigError(f"{path}:{number}: a section header must be [name]: {raw!r}")
            current = Section(name.strip(), number)
            rest = rest.strip()
            if rest == "(+)" and current.name in by_name:  # append to the earlier section
                current = by_name[current.name]
                continue
            if rest:
                if not (rest.startswith("(") and rest.endswith(")")):
                    raise ConfigError(f"{path}:{number}: unexpected text after ]: {rest!r}")
                for option in (o.strip() for o in rest[1:-1].split(",")):
                    if option == "!":
                        current.template = True
                    elif option in by_name:
                        current.items.extend(by_name[option].items)
                    elif option:
                        raise ConfigError(f"{path}:{number}: unknown template {option!r}")
            sections.append(current)
            by_name[current.name] = current
            continue
        if line.startswith(("#include", "#exec")):
            raise ConfigError(f"{path}:{number}: {line.split()[0]} is not supported by amikit sim")
        if current is None:
            raise ConfigError(f"{path}:{number}: a setting before any [section]: {raw!r}")
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{path}:{number}: expected key = value, got {raw!r}")
        value = value[1:] if value.startswith(">") else value  # "=>" as in extensions.conf
        current.items.append((key.strip(), value.strip(), number))
    return sections


@dataclass(frozen=True)
class User:
    """A manager.conf user."""

    name: str
    secret: str
    read: int
    write: int
    allow_multiple_login: bool = True
    #: milliseconds a TCP write to this user's connection may wait (``writetimeout``)
    writetimeout: int = WRITETIMEOUT

    def __repr__(self) -> str:  # never the secret
        return f"User({self.name!r}, read={self.read:#x}, write={self.write:#x})"


@dataclass(frozen=True)
class Endpoint:
    """A simulated phone: what it does when called."""

    name: str
    context: str = "default"
    behaviour: str = "answer"
    answer_after: float = 1.0
    hangup_after: float = 0.0


@dataclass
class SimConfig:
    """Everything the simulator reads from its configuration files."""

    users: dict[str, User]
    httptimeout: int = 60
    timestampevents: bool = True
    webenabled: bool = True
    http_enabled: bool = True
    #: manager.conf's ``enabled``: AMI at all (TCP, and HTTP with ``webenabled``).
    manager_enabled: bool = True
    #: manager.conf's ``bindaddr`` and ``port``: where TCP AMI listens.
    tcp_bindaddr: str = "127.0.0.1"
    tcp_port: int = 5038
    #: manager.conf's ``authtimeout`` (seconds to log in) and ``authlimit`` (unauthenticated
    #: TCP connections at once), Asterisk's defaults 30 and 50.
    authtimeout: int = 30
    authlimit: int = 50
    bindaddr: str = "127.0.0.1"
    bindport: int = 8088
    prefix: str = ""
    servername: str = "Asterisk/23.4.1"
    extensions: list[Section] = field(default_factory=list)
    extensions_path: str = "extensions.conf"
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    default_password_in_use: bool = False
    #: ``queues.conf``, ``confbridge.conf`` and ``musiconhold.conf`` as sections, with the path
    #: each came from (for errors that name the file and line).
    queues: list[Section] = field(default_factory=list)
    queues_path: str = "queues.conf"
    confbridge: list[Section] = field(default_factory=list)
    confbridge_path: str = "confbridge.conf"
    musiconhold: list[Section] = field(default_factory=list)
    musiconhold_path: str = "musiconhold.conf"


def _file_text(directory: pathlib.Path | None, name: str) -> tuple[str, str]:
    if directory is not None and (directory / name).is_file():
        path = directory / name
        return path.read_text("utf-8"), str(path)
    default = resources.files("amikit.sim").joinpath(f"defaults/{name}")
    return default.read_text("utf-8"), f"(amikit default) {name}"


def _number(section: Section, key: str, default: float, path: str) -> float:
    value = section.get(key)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        line = next(n for k, _, n in section.items if k.lower() == key.lower())
        raise ConfigError(f"{path}:{line}: {key} must be a number, not {value!r}") from None


def _at_least(section: Section, key: str, default: int, least: int, path: str,
              where: str = "") -> int:
    """A whole number as ``__init_manager`` reads authtimeout, authlimit and writetimeout:
    ``atoi``, and below ``least`` a warning and the default kept."""
    value = section.get(key)
    if value is None:
        return default
    number = atoi(value)
    if number < least:
        line = next(n for k, _, n in section.items if k.lower() == key.lower())
        log.warning("%s:%d: invalid %s value %r%s, using default value %d", path, line, key,
                    value, where, default)
        return default
    return number


def load_config(directory: str | pathlib.Path | None = None) -> SimConfig:
    """Read the configuration: the shipped defaults, each replaced by ``directory``'s file."""
    folder = pathlib.Path(directory) if directory is not None else None
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"{folder}: no such configuration directory")
    texts = {name: _file_text(folder, name) for name in FILES}

    text, path = texts["manager.conf"]
    manager = read_conf(text, path)
    general = next((s for s in manager if s.name == "general"), Section("general", 0))
    users = {}
    for section in manager:
        if section.name == "general" or section.template:
            continue
        secret = section.get("secret")
        if secret is None:
            raise ConfigError(f"{path}:{section.line}: user [{section.name}] has no secret")
        try:
            read, write = parse_perms(section.get("read", "")), parse_perms(section.get("write", ""))
        except ValueError as exc:
            raise ConfigError(f"{path}:{section.line}: [{section.name}]: {exc}") from None
        users[section.name] = User(
            section.name, secret, read, write, is_true(section.get("allowmultiplelogin", "yes")),
            _at_least(section, "writetimeout", WRITETIMEOUT, 100, path, f" for [{section.name}]"))
    config = SimConfig(
        users=users,
        httptimeout=int(_number(general, "httptimeout", 60, path)),
        timestampevents=is_true(general.get("timestampevents", "no")),
        webenabled=is_true(general.get("enabled")) and is_true(general.get("webenabled")),
        manager_enabled=is_true(general.get("enabled")),
        tcp_bindaddr=general.get("bindaddr", "127.0.0.1") or "127.0.0.1",
        tcp_port=int(_number(general, "port", 5038, path)),
        authtimeout=_at_least(general, "authtimeout", 30, 1, path),
        authlimit=_at_least(general, "authlimit", 50, 1, path),
    )
    config.default_password_in_use = any(
        u.name == "hello" and u.secret == "world" for u in users.values())

    text, path = texts["http.conf"]
    http = next((s for s in read_conf(text, path) if s.name == "general"), Section("general", 0))
    config.http_enabled = is_true(http.get("enabled"))
    config.bindaddr = http.get("bindaddr", "127.0.0.1") or "127.0.0.1"
    config.bindport = int(_number(http, "bindport", 8088, path))
    prefix = (http.get("prefix") or "").strip("/")
    config.prefix = f"/{prefix}" if prefix else ""
    config.servername = http.get("servername", config.servername) or ""

    text, path = texts["extensions.conf"]
    config.extensions = read_conf(text, path)
    config.extensions_path = path

    for name in ("queues", "confbridge", "musiconhold"):
        text, path = texts[f"{name}.conf"]
        setattr(config, name, read_conf(text, path))
        setattr(config, f"{name}_path", path)

    text, path = texts["pjsip.conf"]
    endpoints = {s.name: s for s in read_conf(text, path)
                 if not s.template and (s.get("type") or "").lower() == "endpoint"}
    text, sim_path = texts["sim.conf"]
    sim = {s.name: s for s in read_conf(text, sim_path)}
    sim_general = sim.get("general", Section("general", 0))
    for name, section in endpoints.items():
        behaviour_section = sim.get(name, Section(name, 0))
        behaviour = (behaviour_section.get("behaviour") or "answer").lower()
        if behaviour not in BEHAVIOURS:
            raise ConfigError(f"{sim_path}:{behaviour_section.line}: behaviour must be one of "
                              f"{', '.join(BEHAVIOURS)}, not {behaviour!r}")
        config.endpoints[name] = Endpoint(
            name,
            context=section.get("context", "default") or "default",
            behaviour=behaviour,
            answer_after=_number(behaviour_section, "answer_after",
                                 _number(sim_general, "answer_after", 1.0, sim_path), sim_path),
            hangup_after=_number(behaviour_section, "hangup_after", 0.0, sim_path),
        )
    return config
