"""`netcheck skeleton` (the lock skeletons of kernel C functions) and `netcheck conform` (a spec against
kernel C, or a spec's changes against a patch). Both import tree-sitter only when they parse C."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click
from netcheck.model.lang.errors import Diagnostic, Span, SpecError, did_you_mean

from ..engine.vocabulary import EXIT_OK, EXIT_USAGE, EXIT_VIOLATED
from .options import format_option

if TYPE_CHECKING:   # the command modules import the checker when they run
    from ..conform.patch import FunctionChanges
    from ..conform.skeleton import Skeleton


def _tools_missing(err: Exception) -> NoReturn:
    click.echo(str(err), err=True)
    sys.exit(EXIT_USAGE)


def _no_function(path: str, message: str, hint: str) -> SpecError:
    return SpecError([Diagnostic(Span(path, 1, 1), "NC502", message, hint)])


@click.command("skeleton")
@click.argument("source", type=click.Path())
@click.argument("functions", nargs=-1)
@click.option("--spec", type=click.Path(), help="Read lock wrappers (rtnl_lock() takes rtnl_mutex) from this spec.")
@click.option("--no-calls", is_flag=True, help="Only lock, RCU and wait operations, no other calls.")
@click.option("--patch", "is_patch", is_flag=True,
              help="SOURCE is a unified diff (or a mail with one): the operations in its hunks, per function, "
              "+ added and - removed.")
@format_option(("text", "json"))
def skeleton(source: str, functions: tuple[str, ...], spec: str | None, no_calls: bool, is_patch: bool,
             fmt: str) -> None:
    """Print the lock skeleton of each function of the kernel C file SOURCE (or only of FUNCTIONS).

    A skeleton lists the lock, unlock, RCU, wait and call operations in order, with if/else, loops, goto
    labels and returns kept, each with file:line. Needs tree-sitter-c (the conform extra, docs/conformance.md).
    With --patch, SOURCE is a patch and each function it touches is listed with the operations of its
    hunks. Exit 0, or 2 for a file that cannot be read or parsed, or an unknown FUNCTION.
    """
    from netcheck.model.lang.lockapi import lock_wrappers
    from netcheck.model.lang.parse import load_spec

    from ..conform.csource import ToolsMissing, parse_source
    from ..conform.patch import function_changes, read_patch
    from ..render import skeleton as view
    wrappers = lock_wrappers(load_spec(spec)) if spec else {}
    calls = not no_calls
    if is_patch:
        touched = function_changes(read_patch(source), wrappers, lambda op: True, keep_unchanged=True)
        chosen = _chosen(source, functions, touched, "is touched by the patch")
        _show(fmt, lambda: view.patch_json(chosen, calls), lambda: view.patch_text(chosen, calls))
    try:
        skeletons = parse_source(source, wrappers)
    except ToolsMissing as err:
        _tools_missing(err)
    found = _chosen(source, functions, skeletons, f"is defined in {source}")
    _show(fmt, lambda: view.to_json(found, calls), lambda: view.render_text(found, calls))


T = TypeVar("T", bound="Skeleton | FunctionChanges")


def _chosen(source: str, functions: tuple[str, ...], found: Sequence[T], missing: str) -> list[T]:
    """The items named FUNCTIONS (all when none is named); an unknown name is an error (NC502)."""
    names = [item.function for item in found]
    for name in functions:
        if name not in names:
            raise _no_function(source, f"no function '{name}' {missing}", did_you_mean(name, names))
    return [item for item in found if not functions or item.function in functions]


def _show(fmt: str, as_json: Callable[[], dict], as_text: Callable[[], str]) -> NoReturn:
    if fmt == "json":
        click.echo(json.dumps(as_json(), indent=2))
    else:
        click.echo(as_text(), nl=False)
    sys.exit(EXIT_OK)


@click.command("conform")
@click.argument("spec", type=click.Path())
@click.option("--source", "sources", multiple=True, type=click.Path(), metavar="FILE.c",
              help="Kernel C file whose functions the spec's procedures model (repeatable).")
@click.option("--patch", type=click.Path(), metavar="FILE",
              help="A unified diff (or a mail with one) that the spec's changes to the spec it extends model.")
@click.option("--base", type=click.Path(), metavar="BEFORE.yaml",
              help="With --patch: the spec before the patch (default: the spec SPEC extends).")
@click.option("--strict", is_flag=True, help="Count what the spec leaves out as differences too: with --patch, "
              "changes in functions it has no procedure for; with --source, operations on locks it does not declare.")
@format_option(("text", "json", "sarif"))
def conform(spec: str, sources: tuple[str, ...], patch: str | None, base: str | None, strict: bool,
            fmt: str) -> None:
    """Does SPEC say what the code does?

    With --source: pair each procedure with the C function of its name (or of its `source:` key) and
    report the lock operations that differ: missing, extra, another lock or mode, another order, a call
    made with other locks held, a return with other locks held. With --patch: every lock operation the
    patch adds or removes must be added or removed by SPEC relative to the spec it extends (or --base),
    and nothing else.

    Exit 0: they agree; 1: differences; 2: invalid input or usage.
    """
    if bool(sources) == bool(patch):
        raise click.UsageError("give either --source FILE.c (one or more) or --patch FILE")
    from netcheck.model.lang.parse import load_spec

    from ..conform.csource import ToolsMissing
    loaded = load_spec(spec)
    try:
        failed = _against_patch(loaded, base, patch, strict, fmt) if patch else \
            _against_sources(loaded, sources, strict, fmt)
    except ToolsMissing as err:
        _tools_missing(err)
    sys.exit(EXIT_VIOLATED if failed else EXIT_OK)


def _against_sources(loaded: object, sources: tuple[str, ...], strict: bool, fmt: str) -> bool:
    from netcheck.model.lang.lockapi import lock_wrappers
    from netcheck.model.lang.spec import Spec

    from ..conform.compare import compare_sources
    from ..conform.csource import parse_source
    from ..render import conform as view
    assert isinstance(loaded, Spec)
    wrappers = lock_wrappers(loaded)
    skeletons = [sk for path in sources for sk in parse_source(path, wrappers)]
    report = compare_sources(loaded, skeletons, sources)
    if not report.pairs:
        raise _no_function(loaded.files[0], f"no procedure of the spec models a function defined in "
                           f"{', '.join(sources)}", "name the C function of a procedure with source: FUNCTION")
    text = {"json": lambda: json.dumps(view.source_json(report), indent=2) + "\n",
            "sarif": lambda: view.source_sarif(report)}.get(fmt, lambda: view.source_text(report, strict))()
    click.echo(text, nl=False)
    return report.differences > 0 or (strict and report.unmodelled > 0)


def _against_patch(loaded: object, base_path: str | None, patch: str, strict: bool, fmt: str) -> bool:
    from netcheck.model.lang.lockapi import lock_wrappers
    from netcheck.model.lang.parse import load_spec
    from netcheck.model.lang.spec import Spec

    from ..conform.compare import Verdict, compare_patch
    from ..conform.patch import read_patch
    from ..render import conform as view
    assert isinstance(loaded, Spec)
    if base_path is None and len(loaded.files) < 2:
        raise SpecError([Diagnostic(Span(loaded.files[0], 1, 1), "NC504", "the spec extends no other spec: "
                                    "there are no changes to compare with the patch's",
                                    "write the patched protocol as 'extends: BEFORE.yaml' plus what it changes")])
    base = load_spec(base_path or loaded.files[1])
    hunks = read_patch(patch)
    report = compare_patch(loaded, base, hunks, patch, {**lock_wrappers(base), **lock_wrappers(loaded)})
    text = {"json": lambda: json.dumps(view.patch_json(report), indent=2) + "\n",
            "sarif": lambda: view.patch_sarif(report)}.get(fmt, lambda: view.patch_text(report, strict))()
    click.echo(text, nl=False)
    return report.differences > 0 or (strict and report.count(Verdict.NOT_MODELLED) > 0)
