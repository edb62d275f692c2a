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

import numpy as np
import pytest

import nnmath
from nnmath.cli import calculus, main

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
    assert "demo" not in text                   # the tour does not call itself the demo


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
                "ntk", "calibration", "uncertainty", "information_plane", "optimizer_comparison"):
        assert sections[key]["status"] == "ok", (key, sections[key]["text"])
    cmp = sections["optimizer_comparison"]
    assert "Adam" in cmp["text"] and "SGD with momentum 0.9" in cmp["text"]
    assert "seeds 10, 11, 12" in cmp["text"] and cmp["summary"]["comparison"]["verdict"] in \
        cmp["text"]
    assert not list(report.parent.glob(".nnmath-report.part-*"))     # no temporary folder left
    assert sections["hessian"]["summary"]["dtype"] == "float64"
    assert len(list(report.glob("*.png"))) == int(m.group(2)) >= 12
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
    assert calculus(steps=50, lr=0.3, seed=seed, out=buf) == 0
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
    ([], "a command is required"),
    (["bogus"], "invalid choice"),
    (["train"], "the following arguments are required: CONFIG.toml"),
    (["analyze", "x.npz"], "the following arguments are required: --data"),
    (["compare", "a"], "the following arguments are required: RUN_B"),
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


def test_bare_nnmath_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2
    err = capsys.readouterr().err
    for command in ("demo", "train", "analyze", "gradcheck", "compare", "calculus"):
        assert re.search(rf"^ +{command}\b", err, flags=re.M), (command, err)


def test_unknown_option_shows_the_commands_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: nnmath demo ") and "unrecognized arguments: --bogus" in err
    assert "--epochs" in err


def test_every_command_has_help(capsys):
    for command in ("demo", "train", "analyze", "gradcheck", "compare", "calculus"):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: nnmath {command}")


def test_gradcheck_checks_every_registered_primitive(capsys):
    from nnmath._core.primitive import REGISTRY
    assert main(["gradcheck", "--order", "1"]) == 0
    out = capsys.readouterr().out
    rows = dict(re.findall(r"^([a-z]\S*) +(ok|FAILED|skipped)\b", out, flags=re.M))
    assert set(rows) - {"primitive"} == set(REGISTRY), set(REGISTRY) ^ set(rows)
    assert "FAILED" not in rows.values()
    assert re.search(rf"\d+ ok, 0 failed, \d+ skipped of {len(REGISTRY)} primitives", out)


CONFIG = """
[model]
hidden = [16]
activation = "tanh"
dropout = 0.1

[optimizer]
name = "{name}"
learning_rate = {lr}
{extra}
[data]
source = "{source}"

[training]
epochs = 2
batch_size = 32
seeds = [0, 1, 2]
"""


def test_train_analyze_compare(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    x = np.eye(3, 5)[y] * 2 + rng.standard_normal((150, 5))
    table = np.column_stack([x, y])
    np.savetxt(tmp_path / "data.csv", table, delimiter=",", header="a,b,c,d,e,label",
               comments="")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    (tmp_path / "a.toml").write_text(CONFIG.format(name="adam", lr=0.01, extra="",
                                                   source=tmp_path / "data.csv"))
    (tmp_path / "b.toml").write_text(CONFIG.format(name="sgd", lr=0.05, extra="momentum = 0.9",
                                                   source=tmp_path / "data.npz"))
    assert main(["train", str(tmp_path / "a.toml"), "--output", str(tmp_path / "A"),
                 "--quick"]) == 0
    assert main(["train", str(tmp_path / "b.toml"), "--output", str(tmp_path / "B"),
                 "--no-report"]) == 0
    out = capsys.readouterr().out
    runs = json.loads((tmp_path / "A" / "runs.json").read_text())
    assert [r["seed"] for r in runs["runs"]] == [0, 1, 2] and runs["config"]["model"]["hidden"] == [16]
    assert (tmp_path / "A" / "model.npz").exists() and (tmp_path / "A" / "model-seed2.npz").exists()
    summary = json.loads((tmp_path / "A" / "report" / "summary.json").read_text())
    assert summary["sections"]["hessian"]["status"] == "ok"
    assert summary["sections"]["information_plane"]["status"] == "ok"
    assert not (tmp_path / "B" / "report").exists() and "Report:" in out
    assert main(["analyze", str(tmp_path / "A"), "--data", str(tmp_path / "data.npz"),
                 "--report", str(tmp_path / "an"), "--quick"]) == 0
    an = json.loads((tmp_path / "an" / "summary.json").read_text())
    assert an["sections"]["training"]["status"] == "ok"         # the History from runs.json
    assert an["sections"]["calibration"]["status"] == "ok"
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "A"), str(tmp_path / "B"), "--report",
                 str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    from nnmath.analysis import compare_runs
    direct = compare_runs([r["history"] for r in runs["runs"]],
                          [r["history"] for r in json.loads(
                              (tmp_path / "B" / "runs.json").read_text())["runs"]],
                          names=("A (adam)", "B (sgd)"))
    assert out.splitlines()[0] == direct.verdict
    assert len(list((tmp_path / "cmp").glob("*.png"))) == 2


@pytest.mark.parametrize("config, message", [
    ("[model]\nunits = 3\n", "unknown key model.units; allowed keys in [model]: hidden, "
                              "activation, dropout"),
    ("[model]\nactivation = \"relux\"\n", "model.activation = 'relux' is not allowed; allowed "
                                           "values: relu, tanh"),
    ("[optimiser]\n", "unknown table [optimiser]; allowed tables: [model], [optimizer]"),
    ("[optimizer]\nname = \"adamax\"\n", "optimizer.name = 'adamax' is not allowed; allowed "
                                          "values: adam, sgd"),
    ("[optimizer]\nname = \"adam\"\nmomentum = 0.9\n", "optimizer.momentum does not apply to "
                                                        "'adam'"),
    ("[training]\nepochs = \"ten\"\n", "training.epochs must be int, got 'ten'"),
    ("[data]\nsource = \"nowhere.csv\"\n", "data file nowhere.csv not found"),
    ("[model\n", "cannot read config"),
])
def test_config_errors_name_the_key_and_the_allowed_values(tmp_path, config, message, capsys):
    (tmp_path / "c.toml").write_text(config)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["train", "c.toml"]) == 1
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_missing_or_corrupted_files_give_one_line_and_exit_1(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n")
    cases = [(["analyze", "missing.npz", "--data", "digits"], "checkpoint missing.npz not found"),
             (["analyze", "garbage.npz", "--data", "digits"], "cannot load checkpoint"),
             (["compare", "nowhere", "nowhere"], "no runs.json")]
    for argv, message in cases:
        proc = subprocess.run([sys.executable, "-m", "nnmath", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, (argv, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    from nnmath.cli import CLIError, load_data
    with pytest.raises(CLIError, match="cannot read data file"):
        load_data(str(tmp_path / "bad.csv"))
    with pytest.raises(CLIError, match="cannot read data file"):
        load_data(str(tmp_path / "garbage.npz"))


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
    assert commands == ['pip install -e ".[plot]" && python -m nnmath demo',
                        'pip install -e ".[test]" && python -m pytest'], commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci_lines[-1] == commands[1]
    # chromium for the browser test of the report: CI installs it with apt, the README says so
    assert "apt-get install -y --no-install-recommends chromium" in ci
    assert "apt-get install -y chromium" in text and "`chromium`" in text


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
