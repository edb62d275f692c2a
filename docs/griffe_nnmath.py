"""A griffe extension for the API reference (mkdocs.yml loads it): nnmath's docstrings are
Google-style with their doctests at the end, without an "Examples:" header, and cross-references
in Sphinx's roles. Before griffe parses a docstring this fences every run of ``>>>`` lines (with
their expected output) as a ``pycon`` code block — Markdown would otherwise read ``>>>`` as nested
block quotes — and writes ``:func:`~a.b.c``` as ``c`` in code.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|obj|exc):`~?([^`]+)`")


def _short(match: re.Match) -> str:
    name = match.group(1)
    if match.group(0).split("`")[1].startswith("~"):
        name = name.rsplit(".", 1)[-1]
    return f"``{name}``"


def fence_doctests(text: str) -> str:
    out, inside, indent = [], False, ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if not inside and stripped.startswith(">>>"):
            inside, indent = True, line[: len(line) - len(stripped)]
            out += ["", f"{indent}```pycon"]
        elif inside and not stripped:
            out.append(f"{indent}```")
            inside = False
        out.append(line)
    if inside:
        out.append(f"{indent}```")
    return "\n".join(out)


class NnmathDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(_ROLE.sub(_short, obj.docstring.value))
