"""Docstring parts that several public classes and methods share, written once.

A docstring holds a line ``{{name}}`` where a shared part goes; :func:`fill` replaces
it with ``parts[name]`` indented like that line, when the class or function is
defined, so that ``help()``, numpydoc and Sphinx all see the complete text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["fill"]

T = TypeVar("T")


def fill(**parts: str) -> Callable[[T], T]:
    """Decorator: replace each ``{{name}}`` line of the object's docstring by
    ``parts[name]`` (dedented, then indented as the line); raises ``KeyError`` for a
    placeholder without a part.  Parts no placeholder names are ignored, so one
    registry of shared parts can serve every class of a module.

    Examples
    --------
    >>> from fastgen._docstrings import fill
    >>> @fill(x="x : int\\n    The value.")
    ... def f(x):
    ...     '''Double ``x``.
    ...
    ...     Parameters
    ...     ----------
    ...     {{x}}
    ...     '''
    >>> print(f.__doc__.strip().splitlines()[-2:])
    ['    x : int', '        The value.']
    """

    def apply(obj: T) -> T:
        doc = obj.__doc__ or ""
        out: list[str] = []
        for line in doc.splitlines():
            key = line.strip()
            if not (key.startswith("{{") and key.endswith("}}")):
                out.append(line)
                continue
            name = key[2:-2]
            indent = line[: len(line) - len(line.lstrip())]
            block = textwrap.dedent(parts[name]).strip("\n")
            out += [indent + text if text else text for text in block.splitlines()]
        obj.__doc__ = "\n".join(out)
        return obj

    return apply
