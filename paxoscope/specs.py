"""Finding a spec by name: the built-ins, the bug gallery, and a user's own.

``paxos``, ``voting``, ``consensus``, ``twophase`` and ``tcommit`` are built
in; ``path/to/file.py:Name`` and ``package.module:Name`` load a user's spec,
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
from dataclasses import dataclass
from typing import Any

from .explorer.bfs import as_spec
from .sizing import BuildingLine
from .spec.base import Spec
from .spec.constants import ConfigError


@dataclass(frozen=True)
class Builtin:
    factory: Callable[..., Spec]
    options: tuple[str, ...]  # the CLI size options it takes
    summary: str


def _paxos(**kw):
    from .spec.paxos import Paxos

    return Paxos(**kw)


def _voting(**kw):
    from .spec.voting import Voting

    return Voting(**kw)


def _consensus(values: int = 2):
    from .spec.consensus import Consensus

    if values < 1:
        raise ConfigError(f"--values must be a whole number of at least 1, not {values!r}")
    return Consensus(tuple(f"v{i + 1}" for i in range(values)))


def _twophase(rms: int = 3):
    from .spec.twophase import TwoPhase

    return TwoPhase(rms)


def _tcommit(rms: int = 3):
    from .spec.twophase import TCommit

    return TCommit(rms)


BUILTINS: dict[str, Builtin] = {
    "paxos": Builtin(_paxos, ("acceptors", "values", "ballots", "quorums"), "single-decree Paxos (Paxos.tla)"),
    "voting": Builtin(_voting, ("acceptors", "values", "ballots", "quorums"), "Voting, the abstraction Paxos refines"),
    "consensus": Builtin(_consensus, ("values",), "Consensus: at most one value is ever chosen"),
    "twophase": Builtin(_twophase, ("rms",), "two-phase commit (TwoPhase.tla)"),
    "tcommit": Builtin(_tcommit, ("rms",), "transaction commit, the spec two-phase commit refines"),
}


def bugs() -> dict[str, Any]:
    from .spec.bugs import BUGS

    return BUGS


def load(
    name: str,
    bug: str | None = None,
    sizes: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    progress: BuildingLine | None = None,
    symmetry: bool = False,
) -> Spec:
    """The spec called ``name`` (see the module doc), built with ``sizes``.

    ``sizes`` maps option names to values, None meaning "not given"; an
    option the spec does not take is an error only when it was given.
    ``params`` (a user's spec only) maps constructor parameters to their text
    on the command line, read by ``param_value``. A built-in configuration
    whose tables would not fit in memory (with its symmetry tables, if
    ``symmetry``) is refused before it is built; ``progress`` shows a line
    while big ones are built."""
    given = {k: v for k, v in (sizes or {}).items() if v is not None}
    params = params or {}
    if params and (bug is not None or name in BUILTINS):
        options = ", ".join(f"--{_OPTION.get(o, o)}" for o in BUILTINS[name].options) if name in BUILTINS else ""
        raise ConfigError(
            f"--param {next(iter(params))} is for a user's spec (file.py:Name or module:Name); "
            f"{name} takes {options or 'the size options'}"
        )
    if bug is not None:
        if name != "paxos":
            raise ConfigError(f"--bug applies to the paxos spec, not to {name!r}")
        gallery = bugs()
        if bug not in gallery:
            raise ConfigError(f"unknown bug {bug!r}; the gallery has: {', '.join(gallery)}")
        factory = gallery[bug]
        options = ("acceptors", "values", "ballots", "quorums")
        return _build_sized(factory, given, options, f"bug {bug}", progress, symmetry)
    if name in BUILTINS:
        entry = BUILTINS[name]
        return _build_sized(entry.factory, given, entry.options, name, progress, symmetry)
    if ":" not in name:
        raise ConfigError(
            f"unknown spec {name!r}; built in: {', '.join(BUILTINS)}; or give path/to/file.py:Name or module:Name"
        )
    target = _load_object(name)
    if isinstance(target, Spec) or (_looks_like_spec(target) and not callable(target)):
        if given or params:
            option = f"--{next(iter(given))}" if given else f"--param {next(iter(params))}"
            raise ConfigError(f"{name} is a spec instance; it takes no {option}")
        return as_spec(target)
    if callable(target):
        _accepts(name, target, given)
        arguments = {**given, **_user_params(name, target, given, params)}
        spec = _build(target, arguments, tuple(arguments), name)
        if not _looks_like_spec(spec):
            raise ConfigError(
                f"{name} did not give a spec (an object with init() and next()), but {type(spec).__name__}"
            )
        return as_spec(spec)
    raise ConfigError(f"{name} is neither a spec nor a function or class that makes one")


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
            f"{name} takes no --{_OPTION.get(extra[0], extra[0])} (its parameters: {listed}; "
            "set them with --param NAME=VALUE)"
        )


def _takes_any_keyword(target: Callable) -> bool:
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return True  # no signature to check against: let the call say what is wrong


def _build_sized(factory: Callable[..., Spec], given: dict[str, Any], options, what: str, progress, symmetry) -> Spec:
    """A built-in spec, refused before it is built if its tables cannot fit."""
    from .sizing import check_fits

    with check_fits(what, given, progress, symmetry):
        spec = _build(factory, given, options, what)
        if symmetry and spec.symmetry is not None:
            spec.symmetry  # noqa: B018 -- built here, under the progress line, not inside the search
        return spec


_OPTION = {"quorums": "quorum"}  # a size's CLI option, where the names differ


def _build(factory: Callable[..., Spec], given: dict[str, int], options, what: str) -> Spec:
    extra = [k for k in given if k not in options]
    if extra:
        takes = ", ".join(f"--{_OPTION.get(o, o)}" for o in options) or "no size options"
        raise ConfigError(f"{what} takes {takes}, not --{_OPTION.get(extra[0], extra[0])}")
    try:
        return factory(**given)
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
