"""The one console every ``paxoscope`` command speaks through.

Exit codes, one-line errors, output that survives a closed pipe, and the
progress line on a terminal live here once, so that ``check``, ``prove``,
``conform``, ``cluster`` and every later command behave alike:

- 0 verified, 1 a property fails (with a trace or a reason), 2 bad usage or
  bad input (one line on stderr naming what is wrong), 3 an internal error
  (with its traceback), 130 interrupted.
- A user's mistake is any ``ConfigError`` (the spec layer's error, which the
  other layers subclass), ``SpecError`` (a user's spec misbehaved),
  ``UsageError``, or an ``OSError`` naming a file; an exception may carry its
  own ``exit_code`` (a node that failed to start reports the node's).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

Out = Callable[..., None]


class UsageError(Exception):
    """Bad usage or bad input: reported in one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error, as every other error of ours is."""

    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts and people read it the same.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_stdout_closed = False


def out(*parts: Any) -> None:
    """print() to stdout; a reader that went away (``| head``) ends the output, not the run:
    what the command did stands (the nodes started, the pin was written), only its report
    has no reader."""
    global _stdout_closed
    if _stdout_closed:
        return
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        _stdout_closed = True
        # Keep the interpreter's final flush from complaining as well.
        sys.stdout = open(os.devnull, "w")


def stdout_closed() -> bool:
    """Whether the reader of stdout went away, so that long output can stop early."""
    return _stdout_closed


def user_error(exc: BaseException) -> int | None:
    """The exit code for an error the user caused, or None for our own fault."""
    from .explorer.bfs import SpecError
    from .spec.constants import ConfigError

    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, (ConfigError, SpecError, UsageError)):
        return EXIT_USAGE
    if isinstance(exc, OSError) and exc.filename:
        return EXIT_USAGE
    return None


def error_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def run(prog: str, command: Callable[[], int]) -> int:
    """Run one command, turning whatever it raises into its exit code and one line on stderr."""
    try:
        return command()
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = user_error(exc)
        if code is not None:
            print(f"{prog}: error: {error_line(exc)}", file=sys.stderr)
            return code
        traceback.print_exc()
        print(f"{prog}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


class ProgressLine:
    """One self-overwriting line on stderr, redrawn at most four times a second.

    Call it with the text to show (or give ``format`` to turn a progress record
    into text); ``clear()`` removes it before the report is printed."""

    def __init__(self, format: Callable[[Any], str] = str, interval: float = 0.25) -> None:
        self.format = format
        self.interval = interval
        self.last = 0.0
        self.shown = False

    @staticmethod
    def wanted() -> bool:
        """Progress is for a person at a terminal; logs and pipes stay clean."""
        return sys.stderr.isatty()

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        sys.stderr.write("\r\x1b[K" + self.format(progress))
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
