"""Source locations and user-facing diagnostics: every spec error names file:line:col, a code and a hint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Span:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def short(self) -> str:
        """`file:line`, the form used in traces."""
        return f"{self.file}:{self.line}"

    def shifted(self, col_offset: int) -> Span:
        return Span(self.file, self.line, self.col + col_offset)


NOWHERE = Span("<none>", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec, located, with a stable code and a hint on how to fix it."""

    span: Span
    code: str
    message: str
    hint: str = ""

    def render(self) -> str:
        text = f"{self.span}: error[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SpecError(Exception):
    """A spec could not be loaded: carries every diagnostic found, sorted by location."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(sorted(set(diagnostics), key=lambda d: (d.span, d.code, d.message)))
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class Diagnostics:
    """Collects diagnostics so that all the errors of a spec are reported at once."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, span: Span, code: str, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(span, code, message, hint))

    def extend(self, error: SpecError) -> None:
        self.items.extend(error.diagnostics)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint, or a list of what is allowed when nothing is close."""
    import difflib

    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return ""
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of: {shown}"


def shorten(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters for a message (a huge value must not flood the output)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
