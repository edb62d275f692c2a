"""The command line (``nnmath demo``, ``--version``) and the README that documents it.

The README's set-up commands are the project's contract: its test command must be exactly what CI
(``.ci/run``) runs, and every ``python`` code block in it must run and print what it says.
"""
from __future__ import annotations

import doctest
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import warnings

import pytest

import nnmath
from nnmath.cli import demo, main

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

_LOSS = re.compile(r"loss decreased from ([0-9.]+) to ([0-9.]+)  ok")


def _check_demo_output(text: str) -> None:
    assert "check_grads(loss, params, order=2, modes=fwd+rev) against finite differences: passed" in text
    assert "jacrev vs jacfwd" in text
    assert "FAILED" not in text
    assert text.count("  ok") >= 6
    m = _LOSS.search(text)
    assert m, text
    first, last = float(m.group(1)), float(m.group(2))
    assert last < 0.5 * first, (first, last)
    assert text.rstrip().splitlines()[-1].startswith("all checks passed")


def test_demo_subprocess(tmp_path):
    """The README's main job, as a user runs it: ``python -m nnmath demo`` (trains on the digits,
    then analyses the model and writes the report; ``--quick`` shrinks only the analyses)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    out, report = tmp_path / "digits.npz", tmp_path / "nnmath-report"
    proc = subprocess.run([sys.executable, "-m", "nnmath", "demo", "--output", str(out),
                           "--report", str(report), "--quick"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "Total params: 19,210" in text
    acc = float(re.search(r"Test accuracy: ([0-9.]+)", text).group(1))
    assert acc >= 0.96, text
    assert "forward and reverse mode, to second order, float64: passed" in text
    assert "identical predictions" in text and out.exists()
    # the report: where it is, each section's time, the three kinds of file
    m = re.search(r"^Report: (.+report\.html) \((\d+) figures", text, flags=re.M)
    assert m and pathlib.Path(m.group(1)) == (report / "report.html").resolve(), text
    assert re.search(r"Hessian: top eigenvalues.* ok +\d+\.\d s", text), text
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    sections = summary["sections"]
    for key in ("training", "weights", "gradient_flow", "hessian", "landscape", "linear_path",
                "ntk"):
        assert sections[key]["status"] == "ok", (key, sections[key]["text"])
    assert sections["hessian"]["summary"]["dtype"] == "float64"
    assert len(list(report.glob("*.png"))) == int(m.group(2)) >= 7
    page = (report / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == int(m.group(2)) and "https://" not in page
    assert "FAILED" not in text


def test_demo_without_report(tmp_path, capsys):
    """``--no-report``: train, check and save only (no analysis, no report directory)."""
    out = tmp_path / "digits.npz"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        # (after 2 epochs the accuracy check may fail: only the absence of a report is tested)
        main(["demo", "--epochs", "2", "--output", str(out), "--no-report"])
    finally:
        os.chdir(cwd)
    text = capsys.readouterr().out
    assert "Report:" not in text and not (tmp_path / "nnmath-report").exists() and out.exists()


def test_calculus_subprocess():
    """The autodiff tour: ``python -m nnmath calculus``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, "-m", "nnmath", "calculus"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check_demo_output(proc.stdout)
    assert "gradient descent, 200 steps" in proc.stdout


def test_calculus_in_process(capsys):
    assert main(["calculus"]) == 0
    _check_demo_output(capsys.readouterr().out)


@pytest.mark.parametrize("seed", [1, 7])
def test_demo_other_seeds_and_options(seed):
    buf = io.StringIO()
    assert demo(steps=50, lr=0.3, seed=seed, out=buf) == 0
    text = buf.getvalue()
    _check_demo_output(text)
    assert f"seed {seed}" in text and "50 steps" in text


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"nnmath {nnmath.__version__}"


def test_help_lists_demo(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["train"], "invalid choice"),
    (["calculus", "--steps", "0"], "--steps: expected a positive integer, got 0"),
    (["calculus", "--steps", "many"], "--steps: expected a positive integer, got 'many'"),
    (["calculus", "--lr", "-1"], "--lr: expected a positive finite number, got -1"),
    (["demo", "--epochs", "0"], "--epochs: expected a positive integer, got 0"),
])
def test_usage_errors_name_the_argument(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The README
# ---------------------------------------------------------------------------------------------
def _code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_set_up_commands_match_ci():
    """Exactly two one-line set-up commands; the test one is what .ci/run runs."""
    text = README.read_text(encoding="utf-8")
    commands = [body.strip() for lang, body in _code_blocks(text) if lang == ""]
    assert commands == ['pip install -e . && python -m nnmath demo',
                        'pip install -e ".[test]" && python -m pytest'], commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci_lines[-1] == commands[1]


def _python_blocks_as_doctest(text: str) -> str:
    """The README with everything outside ```python blocks blanked (line numbers preserved)."""
    out, inside = [], False
    for line in text.splitlines():
        fence = line.strip()
        if fence.startswith("```"):
            inside = not inside and fence == "```python"
            out.append("")
        else:
            out.append(line if inside else "")
    return "\n".join(out) + "\n"


def test_readme_examples_run_and_print_what_they_say():
    source = _python_blocks_as_doctest(README.read_text(encoding="utf-8"))
    test = doctest.DocTestParser().get_doctest(source, {}, "README.md", str(README), 0)
    assert len(test.examples) >= 20
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    with warnings.catch_warnings():     # numpy may warn about log(0) in where's untaken branch
        warnings.simplefilter("ignore", RuntimeWarning)
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
