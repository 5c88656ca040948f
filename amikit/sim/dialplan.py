"""The dialplan of ``extensions.conf``: contexts, extensions, priorities, ``${VAR}`` and ``$[expr]``.

A subset of Asterisk's ``pbx_config``: ``exten => EXT,PRIO(label),App(args)``,
``same => n,…``, ``include => ctx``, ``[globals]``, literal extensions and ``_`` patterns
(``X Z N . ! [..]``). Substitution knows variables, ``GLOBAL()``, ``CALLERID()``,
``CHANNEL()`` and a few more; ``$[…]`` does arithmetic, comparisons and ``&``/``|``.

    >>> plan = Dialplan.parse(read_conf("[sets]\\nexten => 101,1,NoOp(hi)\\n same => n,Hangup()"))
    >>> plan.find("sets", "101", 2)
    Priority(app='Hangup', data='', label=None, where='extensions.conf:3')
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from amikit.sim.config import ConfigError, Section, read_conf
from amikit.sim.replies import is_number

__all__ = ["Dialplan", "Priority", "evaluate", "read_conf", "substitute"]


@dataclass(frozen=True)
class Priority:
    """One dialplan step."""

    app: str
    data: str
    label: str | None = None
    where: str = "pbx_config"  # file:line, as ``dialplan show`` names its registrar


@dataclass
class Context:
    name: str
    extensions: dict[str, dict[int, Priority]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)


def _pattern(exten: str) -> re.Pattern[str] | None:
    if not exten.startswith("_"):
        return None
    out = []
    chars = iter(exten[1:])
    for c in chars:
        if c in "Xx":
            out.append("[0-9]")
        elif c in "Zz":
            out.append("[1-9]")
        elif c in "Nn":
            out.append("[2-9]")
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c == "[":
            group = "".join(iter(lambda: next(chars), "]"))
            out.append(f"[{group}]")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out))


class Dialplan:
    """Contexts by name, globals, and lookups that follow ``include``."""

    def __init__(self) -> None:
        self.contexts: dict[str, Context] = {}
        self.globals: dict[str, str] = {}

    @classmethod
    def parse(cls, sections: list[Section], path: str = "extensions.conf") -> Dialplan:
        plan = cls()
        for section in sections:
            if section.name == "general":
                continue
            if section.name == "globals":
                plan.globals.update({k: v for k, v, _ in section.items})
                continue
            context = plan.contexts.setdefault(section.name, Context(section.name))
            last: tuple[str, int] | None = None
            for key, value, line in section.items:
                key = key.lower()
                if key == "include":
                    context.includes.append(value.strip())
                    continue
                if key not in ("exten", "same"):
                    raise ConfigError(f"{path}:{line}: amikit sim does not understand {key!r}")
                last = plan._add(context, key, value, last,
                                 f"{pathlib.PurePath(path.rsplit(' ', 1)[-1]).name}:{line}")
        return plan

    def _add(self, context: Context, key: str, value: str, last: tuple[str, int] | None,
             where: str) -> tuple[str, int]:
        parts = value.split(",", 2 if key == "exten" else 1)
        if key == "same":
            if last is None:
                raise ConfigError(f"{where}: 'same =>' with no extension before it")
            exten, (prio_text, app_text) = last[0], (parts + [""])[:2]
        else:
            if len(parts) < 3:
                raise ConfigError(f"{where}: expected exten => EXT,PRIORITY,App(args)")
            exten, prio_text, app_text = (p.strip() for p in parts)
        prio_text = prio_text.strip()
        label = None
        if "(" in prio_text and prio_text.endswith(")"):
            prio_text, label = prio_text[:-1].split("(", 1)
        if prio_text == "n":
            if last is None or last[0] != exten:
                raise ConfigError(f"{where}: priority 'n' with no priority before it")
            number = last[1] + 1
        elif is_number(prio_text):
            number = int(prio_text)
        else:
            raise ConfigError(f"{where}: priority must be a number or n, not {prio_text!r}")
        app, _, data = app_text.strip().partition("(")
        if data and not data.endswith(")"):
            raise ConfigError(f"{where}: unbalanced parentheses in {app_text.strip()!r}")
        context.extensions.setdefault(exten, {})[number] = Priority(
            app.strip(), data[:-1] if data else "", label, where)
        return exten, number

    def _context_chain(self, context: str, seen: set[str] | None = None) -> list[Context]:
        seen = seen if seen is not None else set()
        if context in seen or context not in self.contexts:
            return []
        seen.add(context)
        found = [self.contexts[context]]
        for included in self.contexts[context].includes:
            found += self._context_chain(included, seen)
        return found

    def _extension(self, context: str, exten: str) -> dict[int, Priority] | None:
        for ctx in self._context_chain(context):
            if exten in ctx.extensions:
                return ctx.extensions[exten]
            for name, priorities in ctx.extensions.items():
                pattern = _pattern(name)
                if pattern is not None and pattern.fullmatch(exten):
                    return priorities
        return None

    def has_context(self, context: str) -> bool:
        return context in self.contexts

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        found = self._extension(context, exten)
        return found is not None and priority in found

    def find(self, context: str, exten: str, priority: int) -> Priority | None:
        found = self._extension(context, exten)
        return found.get(priority) if found else None

    def label(self, context: str, exten: str, label: str) -> int | None:
        for number, prio in (self._extension(context, exten) or {}).items():
            if prio.label == label:
                return number
        return None

    def show(self, context: str | None = None, exten: str | None = None) -> list[str] | None:
        """``dialplan show [[exten@]context]`` as ``show_dialplan_helper`` prints it (None: no
        such context or extension)."""
        lines: list[str] = []
        contexts = extensions = priorities = 0
        for ctx in self.contexts.values():
            if context is not None and ctx.name != context:
                continue
            shown = [(name, steps) for name, steps in ctx.extensions.items()
                     if exten is None or name == exten]
            if exten is not None and not shown:
                continue
            contexts += 1
            lines.append(f"[ Context '{ctx.name}' created by 'pbx_config' ]")
            for name, steps in shown:
                extensions += 1
                for i, (number, step) in enumerate(sorted(steps.items())):
                    priorities += 1
                    head = f"'{name}' =>" if i == 0 else ""
                    label = f"[{step.label}] " if step.label else ""
                    lines.append(f"  {head:<17} {f'{number}. {label}{step.app}({step.data})':<45} "
                                 f"[{step.where}]")
            lines.append("")
        if not contexts:
            return None
        return [*lines, f"-= {_count(extensions, 'extension')} ({_count(priorities, 'priority')}) "
                        f"in {_count(contexts, 'context')}. =-"]


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


# -- substitution and expressions --------------------------------------------------------
Lookup = Callable[[str], str]


def substitute(text: str, lookup: Lookup) -> str:
    """Expand ``${NAME}`` (functions too: ``${CALLERID(num)}``) and ``$[expr]``, innermost first.

        >>> substitute("x${A}y$[1 + ${B}]", {"A": "-", "B": "2"}.get)
        'x-y3'
    """
    out = []
    i = 0
    while i < len(text):
        if text.startswith("${", i) or text.startswith("$[", i):
            close = "}" if text[i + 1] == "{" else "]"
            opening = text[i + 1]
            depth, j = 1, i + 2
            while j < len(text) and depth:
                if text[j] == opening:
                    depth += 1
                elif text[j] == close:
                    depth -= 1
                j += 1
            inner = substitute(text[i + 2:j - 1], lookup)
            out.append((lookup(inner) or "") if close == "}" else evaluate(inner))
            i = j
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


_TOKEN = re.compile(r'\s*(".*?"|\d+\.\d+|\d+|<=|>=|!=|[-+*/%()<>=&|!:]|[^\s()<>=!&|+*/%-]+)')


def evaluate(expr: str) -> str:
    """A small ``$[…]``: + - * / %, comparisons (1/0), & and |, parentheses.

        >>> evaluate("2 * (3 + 4)"), evaluate("5 > 3 & 1"), evaluate("abc = abc")
        ('14', '1', '1')
    """
    tokens = [t.strip('"') if t.startswith('"') else t for t in _TOKEN.findall(expr)]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def number(value: str) -> float | None:
        try:
            return float(value)
        except ValueError:
            return None

    def fmt(value: float) -> str:
        return str(int(value)) if value == int(value) else str(value)

    def atom() -> str:
        token = take() if peek() is not None else ""
        if token == "(":
            value = disjunction()
            if peek() == ")":
                take()
            return value
        if token == "-" and peek() is not None:
            n = number(atom())
            return fmt(-n) if n is not None else "0"
        if token == "!":
            return "1" if atom() in ("", "0") else "0"
        return token

    def binary(next_level: Callable[[], str], ops: tuple[str, ...],
               apply: Callable[[str, str, str], str]) -> Callable[[], str]:
        def level() -> str:
            left = next_level()
            while peek() in ops:
                op = take()
                left = apply(op, left, next_level())
            return left
        return level

    def arith(op: str, a: str, b: str) -> str:
        x, y = number(a), number(b)
        if x is None or y is None:
            return "0"
        if op in "/%" and y == 0:
            return "0"
        result = {"+": x + y, "-": x - y, "*": x * y, "/": x // y if x == int(x) and y == int(y)
                  else x / y, "%": x % y}[op]
        return fmt(result)

    def compare(op: str, a: str, b: str) -> str:
        x, y = number(a), number(b)
        left, right = (x, y) if x is not None and y is not None else (a, b)
        result = {"=": left == right, "!=": left != right, "<": left < right, ">": left > right,
                  "<=": left <= right, ">=": left >= right}[op]  # type: ignore[operator]
        return "1" if result else "0"

    def logic(op: str, a: str, b: str) -> str:
        truthy = a not in ("", "0")
        if op == "|":
            return a if truthy else b
        return a if truthy and b not in ("", "0") else "0"

    product = binary(atom, ("*", "/", "%"), arith)
    total = binary(product, ("+", "-"), arith)
    comparison = binary(total, ("=", "!=", "<", ">", "<=", ">="), compare)
    conjunction = binary(comparison, ("&",), logic)
    disjunction = binary(conjunction, ("|",), logic)
    if not tokens:
        return ""
    return disjunction()


def split_args(data: str) -> list[str]:
    """An application's arguments, split on commas outside quotes and parentheses."""
    args, depth, quoted, current = [], 0, False, []
    for c in data:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "([":
            depth += 1
        elif not quoted and c in ")]":
            depth -= 1
        elif c == "," and depth == 0 and not quoted:
            args.append("".join(current))
            current = []
            continue
        current.append(c)
    args.append("".join(current))
    return args



