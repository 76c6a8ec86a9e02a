"""Finding a spec by name: the built-ins, the bug gallery, and a user's own.

The built-in specs and their variants are those of the protocol registry
(``paxoscope.registry``: ``paxos``, ``voting``, ``consensus``, ``twophase``,
``tcommit``, ``multipaxos``, ``raft``); ``path/to/file.py:Name`` and ``package.module:Name`` load a user's spec,
where Name is a ``Spec`` instance, a ``Spec`` subclass, or a function that
returns one (a plain class with ``init``, ``next`` and ``invariants``, no
``Spec`` base, is a spec too). Everything that can go wrong raises
``ConfigError`` with one line that names the culprit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from . import registry
from .explorer.bfs import as_spec
from .sizing import BuildingLine
from .spec.base import Spec
from .spec.constants import ConfigError

DEFAULT = "paxos"  # what check, pin and prove take when no spec is named


def spec_name(name: str | None, bug: str | None = None) -> str:
    """The spec a command means: ``name``; else, for a ``bug``, the default spec
    if that is one of its variants (as before there were other protocols), else
    the spec it is a variant of; else the default spec."""
    if name is not None:
        return name
    if bug is None or registry.variants_named(bug, registry.protocol_of(DEFAULT).name, "spec"):
        return DEFAULT
    return registry.variant(bug).spec


def load(
    name: str | None,
    bug: str | None = None,
    sizes: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    progress: BuildingLine | None = None,
    symmetry: bool = False,
) -> Spec:
    """The spec called ``name`` (see the module doc; None: as ``spec_name``
    says), or its gallery variant ``bug``, built with ``sizes``.

    ``sizes`` maps parameter names to values, None meaning "not given"; a
    parameter the spec does not take is an error only when it was given.
    ``params`` (a user's spec only) maps constructor parameters to their text
    on the command line, read by ``param_value``. A built-in configuration
    whose tables would not fit in memory (with its symmetry tables, if
    ``symmetry``) is refused before it is built; ``progress`` shows a line
    while big ones are built."""
    name = spec_name(name, bug)
    given = {k: v for k, v in (sizes or {}).items() if v is not None}
    params = params or {}
    if params and (bug is not None or registry.is_builtin(name)):
        takes = registry.spec_entry(name).flags() if registry.is_builtin(name) else ""
        raise ConfigError(
            f"--param {next(iter(params))} is for a user's spec (file.py:Name or module:Name); "
            f"{name} takes {takes or 'the size options'}"
        )
    if bug is not None:
        variant = builtin_variant(name, bug)
        return _build_sized(name, given, progress, symmetry, variant)
    if registry.is_builtin(name):
        return _build_sized(name, given, progress, symmetry)
    if ":" not in name:
        registry.spec_entry(name)  # raises: an unknown spec, naming the built-in ones
    target = _load_object(name)
    if isinstance(target, Spec) or (_looks_like_spec(target) and not callable(target)):
        if given or params:
            option = registry.flag_of(next(iter(given))) if given else f"--param {next(iter(params))}"
            raise ConfigError(f"{name} is a spec instance; it takes no {option}")
        return as_spec(target)
    if callable(target):
        _accepts(name, target, given)
        arguments = {**given, **_user_params(name, target, given, params)}
        spec = _call(target, arguments, name)
        if not _looks_like_spec(spec):
            raise ConfigError(
                f"{name} did not give a spec (an object with init() and next()), but {type(spec).__name__}"
            )
        return as_spec(spec)
    raise ConfigError(f"{name} is neither a spec nor a function or class that makes one")


def builtin_variant(name: str, bug: str) -> registry.Variant:
    """The gallery variant ``bug`` of the built-in spec ``name`` (ConfigError if there is none)."""
    varied = [p.gallery.varies for p in registry.protocols() if p.gallery.varies is not None]
    if name not in varied:
        owner = registry.protocol_of(name).gallery.varies if registry.is_builtin(name) else None
        applies = f"the {owner} spec" if owner else f"the specs with a gallery ({', '.join(varied)})"
        raise ConfigError(f"--bug applies to {applies}, not to {name!r}")
    return registry.variant(bug, registry.protocol_of(name).name, "spec")


def wants_deadlock(spec: Any) -> bool:
    """Whether ``spec`` asks for deadlocks to be reported (as a TLC model's CHECK_DEADLOCK does),
    itself or, for a plain class the explorer wrapped (``PlainSpec``), the class."""
    return any(getattr(s, "check_deadlock", False) for s in (spec, getattr(spec, "obj", None)))


_BARE_WORD = re.compile(r"[A-Za-z_][\w.-]*")


def param_value(name: str, text: str) -> Any:
    """A --param value: a Python literal (``3``, ``0.5``, ``True``, ``None``,
    ``'x'``, ``(1, 2)``), else a bare word (``fast``, ``round-robin``) as a
    string; ``ValueError`` naming the parameter otherwise. Bare words are
    strings because that is what ``--param mode=fast`` means to whoever types
    it; the words Python reads as literals (``True``, ``None``) stay literals."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if _BARE_WORD.fullmatch(text.strip()):
            return text.strip()
        raise ValueError(
            f"--param {name}: {text!r} is neither a Python literal nor a bare word (quote a string: {name}='...')"
        ) from None


def _user_params(name: str, target: Callable, given: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """``params`` read as values, each checked against ``target``'s signature."""
    both = sorted(set(given) & set(params))
    if both:
        raise ConfigError(f"{name}: {both[0]} is given both as --{both[0]} and as --param")
    takes = _parameters(target)
    if not _takes_any_keyword(target):
        unknown = [p for p in params if p not in takes]
        if unknown:
            listed = ", ".join(takes) or "no parameters"
            raise ConfigError(f"{name} has no parameter {unknown[0]!r} (--param); it takes: {listed}")
    return {p: param_value(p, text) for p, text in params.items()}


def _accepts(name: str, target: Callable, given: dict[str, Any]) -> None:
    """Every size option given must be a parameter of the user's ``target``."""
    takes = _parameters(target)
    extra = [k for k in given if k not in takes]
    if extra and not _takes_any_keyword(target):
        listed = ", ".join(takes) or "none"
        raise ConfigError(
            f"{name} takes no {registry.flag_of(extra[0])} (its parameters: {listed}; set them with --param NAME=VALUE)"
        )


def _takes_any_keyword(target: Callable) -> bool:
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return True  # no signature to check against: let the call say what is wrong


def _build_sized(name: str, given: dict[str, Any], progress, symmetry, variant=None) -> Spec:
    """A built-in spec (or its ``variant``), refused before it is built if its tables cannot fit."""
    from .sizing import check_fits

    entry = registry.spec_entry(name)
    bug = variant.name if variant is not None else None
    what = f"bug {bug}" if bug else name
    with check_fits(name, given, progress, symmetry, bug):
        spec = _call(lambda **kw: entry.build(kw, variant and variant.build, what), given, what)
        if symmetry and spec.symmetry is not None:
            spec.symmetry  # noqa: B018 -- built here, under the progress line, not inside the search
        return spec


def _call(factory: Callable[..., Spec], arguments: dict[str, Any], what: str) -> Spec:
    try:
        return factory(**arguments)
    except ConfigError:
        raise
    except Exception as exc:  # a user's constructor that fails is bad input, not our crash
        raise ConfigError(f"building {what} raised {type(exc).__name__}: {exc}") from exc


def _parameters(target: Callable) -> list[str]:
    try:
        return list(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return []


def _looks_like_spec(obj: Any) -> bool:
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "next", None))


def _load_object(ref: str) -> Any:
    where, _, attr = ref.rpartition(":")
    if not where or not attr:
        raise ConfigError(f"{ref!r}: write path/to/file.py:Name or module:Name")
    if where.endswith(".py") or os.sep in where or "/" in where:
        if not os.path.isfile(where):
            raise ConfigError(f"no such file: {where}")
        # As `python file.py` does: the file's folder is on the path, for its own imports.
        _on_path(os.path.dirname(os.path.abspath(where)))
        module = _import_file(where)
    else:
        # As `python -m` does: the current directory is on the path, so `mutex:Mutex` finds ./mutex.py.
        _on_path(os.getcwd())
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as exc:
            raise ConfigError(f"no module named {exc.name!r} (from {ref})") from exc
        except Exception as exc:
            raise ConfigError(f"importing {where} raised {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{where} has no {attr!r}") from None


def _on_path(folder: str) -> None:
    if folder not in sys.path and not (folder == os.getcwd() and "" in sys.path):
        sys.path.insert(0, folder)


def _import_file(path: str):
    name = "paxoscope_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        line = ""
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == os.path.abspath(path) or tb.tb_frame.f_code.co_filename == path:
                line = f" (line {tb.tb_lineno})"
            tb = tb.tb_next
        raise ConfigError(f"loading {path} raised {type(exc).__name__}: {exc}{line}") from exc
    return module
