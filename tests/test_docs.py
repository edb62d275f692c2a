"""The user documentation in docs/: every page's examples run and print what the page says, the
shell commands it shows are commands nnmath accepts, and ``mkdocs build --strict`` builds the site
(API reference from the docstrings included) without a warning.

A page's examples are its fenced ``pycon`` / ``python`` blocks that hold ``>>>`` lines; they run
as one doctest per page, in order, in one namespace (as a reader types them), with
NORMALIZE_WHITESPACE, ELLIPSIS and NUMBER (a float printed in the page matches to the digits
written there, as pytest's doctest option does).
"""
from __future__ import annotations

import doctest
import contextlib
import io
import os
import pathlib
import re
import shlex
import subprocess
import sys
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

NUMBER = doctest.register_optionflag("NUMBER")     # the flag pytest registers under this name
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS | NUMBER

_FENCE = re.compile(r"^\s*```")
_FLOAT = re.compile(r"(?<![\w.])[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")


class NumberChecker(doctest.OutputChecker):
    """doctest's checker, plus NUMBER: each float in the expected output matches a float in the
    actual output that agrees with it to the precision written (``0.52`` matches 0.5213)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if not optionflags & NUMBER:
            return False
        wants, gots = list(_FLOAT.finditer(want)), list(_FLOAT.finditer(got))
        if not wants or len(wants) != len(gots):
            return False
        pieces, last = [], 0
        for w, g in zip(wants, gots):
            text = w.group()
            mantissa = text.lower().split("e")[0]
            exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            tolerance = 0.5 * 10.0 ** (exponent - decimals) * (1 + 1e-9)
            same = abs(float(g.group()) - float(text)) <= tolerance
            pieces += [got[last:g.start()], text if same else g.group()]
            last = g.end()
        return super().check_output(want, "".join(pieces) + got[last:], optionflags)


def doctest_source(text: str) -> str:
    """The page with everything but its pycon/python blocks blanked (line numbers kept)."""
    out, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            lang = line.strip()[3:].strip().split(" ")[0]
            inside = not inside and lang in ("pycon", "python")
            out.append("")
        else:
            out.append(line if inside else "")
    return "\n".join(out) + "\n"


def _run_page(path: pathlib.Path, tmp_path: pathlib.Path) -> doctest.DocTestRunner:
    source = doctest_source(path.read_text(encoding="utf-8"))
    test = doctest.DocTestParser().get_doctest(source, {"__name__": "__docs__"}, path.name,
                                               str(path), 0)
    runner = doctest.DocTestRunner(checker=NumberChecker(), optionflags=FLAGS)
    report = io.StringIO()
    cwd = os.getcwd()
    from nnmath._core.primitive import REGISTRY
    declared_before = set(REGISTRY)     # a page that declares a primitive (extend.md) removes it
    os.chdir(tmp_path)                  # examples that write files write them here
    try:
        import matplotlib
        matplotlib.use("Agg")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner.run(test, out=report.write)
    finally:
        os.chdir(cwd)
        for name in set(REGISTRY) - declared_before:
            del REGISTRY[name]
        import matplotlib.pyplot as plt
        plt.close("all")
    assert runner.failures == 0, report.getvalue()
    return runner


PAGES_WITH_EXAMPLES = [p for p in PAGES if ">>>" in doctest_source(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=[p.name for p in PAGES_WITH_EXAMPLES])
def test_page_examples_run_and_print_what_they_say(page, tmp_path):
    _run_page(page, tmp_path)


def test_every_user_page_has_examples():
    """The getting-started page and every analysis page show runnable examples."""
    design = {"ARCHITECTURE.md", "NN_API.md", "NUMPY_COVERAGE.md", "SCALING.md", "api.md",
              "index.md"}
    missing = [p.name for p in PAGES if p.name not in design and p not in PAGES_WITH_EXAMPLES]
    assert not missing, missing


def test_number_checker():
    c, f = NumberChecker(), FLAGS
    assert c.check_output("0.52\n", "0.5213\n", f)
    assert not c.check_output("0.52\n", "0.5313\n", f)
    assert c.check_output("(1.5e-03, True)\n", "(0.0015002, True)\n", f)
    assert not c.check_output("[1.0 2.0]\n", "[1.0 2.0 3.0]\n", f)


def _console_commands(text: str) -> list[str]:
    """The ``$ nnmath …`` command lines of every ``console`` block."""
    commands, inside = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside and line.strip()[3:].strip() == "console"
        elif inside and line.startswith("$ "):
            commands.append(line[2:].strip())
    return commands


def test_shell_commands_in_the_docs_are_accepted():
    """Every ``nnmath …`` / ``python -m nnmath …`` command a page shows parses (its subcommand and
    options exist): it is run with ``--help`` appended, which parses the options and exits 0."""
    from nnmath.cli import main
    seen = 0
    for page in PAGES:
        for command in _console_commands(page.read_text(encoding="utf-8")):
            words = shlex.split(command.split("&&")[-1])
            if words[:3] == ["python", "-m", "nnmath"]:
                words = words[3:]
            elif words[:1] == ["nnmath"]:
                words = words[1:]
            else:
                continue
            seen += 1
            with pytest.raises(SystemExit) as exit_info:
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                    main(words + ["--help"])
            assert exit_info.value.code == 0, (page.name, command)
    assert seen >= 1


def test_images_referenced_by_the_pages_exist():
    for page in PAGES:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).is_file(), (page.name, target)


def test_mkdocs_build_strict(tmp_path):
    """The site builds with ``mkdocs build --strict``: no broken link, no missing page in the
    nav, and the API reference is generated from the docstrings without a griffe warning."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed "
                                               "(pip install -e '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed "
                                           "(pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("hessian_top_eigenvalues", "loss_surface_2d", "empirical_ntk", "Laplace",
                 "sinkhorn", "compare_runs", "convergence_rate", "build_report"):
        assert name in api, name
