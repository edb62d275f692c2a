"""nnmath.report: the report builds on a tiny model quickly; report.html embeds every figure and
reaches for nothing outside itself; summary.json is strict JSON holding the numbers the analysis
tools return (compared with direct calls, and with dense answers where the model is small enough);
unavailable, skipped and failed sections say so; render() gives Figures and PNG bytes."""
from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from matplotlib.figure import Figure

import nnmath as nm
from nnmath import analysis as A
from nnmath import report as R
from nnmath.keras import layers
from nnmath.training import Sequential, set_random_seed

PNG = b"\x89PNG\r\n\x1a\n"
SIZES = dict(hessian_samples=40, top_k=3, trace_probes=30, slq_probes=3, slq_steps=20,
             landscape_points=5, landscape_samples=40, path_points=5, ntk_points=8)
NEW = ("calibration", "uncertainty", "information_plane", "optimizer_comparison")


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    x = 1.5 * np.eye(3, 4)[labels] + rng.standard_normal((n, 4))
    return x, labels


def _model(seed, dtype="float64"):
    set_random_seed(seed)
    m = Sequential([layers.Dense(6, activation="tanh", input_dim=4, dtype=dtype),
                    layers.Dense(3, activation="softmax", dtype=dtype)])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.build((None, 4))
    return m


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    x, y = _data()
    xt, yt = _data(1, 30)
    model, other = _model(0), _model(1)
    t0 = time.perf_counter()
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0,
                        callbacks=[A.GradientFlowMonitor(x[:16], y[:16])])
    other.fit(x, y, epochs=4, batch_size=16, verbose=0)
    ctx = R.ReportContext(model, x, y, xt, yt, history=history, other_model=other, seed=3,
                          **SIZES)
    rep = R.build_report(ctx, strict=True)
    files = rep.write(tmp_path_factory.mktemp("report"))
    seconds = time.perf_counter() - t0
    return dict(ctx=ctx, report=rep, files=files, seconds=seconds, x=x, y=y, xt=xt, yt=yt,
                model=model, other=other, history=history,
                summary=json.loads(files.summary.read_text(encoding="utf-8"),
                                   parse_constant=_no_constant))


def _no_constant(name):
    raise AssertionError(f"summary.json holds the non-standard JSON constant {name}")


# ---------------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------------

def test_builds_quickly_with_every_available_section(built):
    assert built["seconds"] < 20, built["seconds"]
    statuses = {s.key: s.status for s in built["report"].sections}
    assert list(statuses) == list(R.SECTIONS)
    for key in ("training", "weights", "gradient_flow", "hessian", "landscape", "linear_path",
                "ntk", "calibration"):
        assert statuses[key] == "ok", (key, built["report"][key].text)
    # this model has no dropout, and was trained without InformationPlane or a comparison
    assert statuses["uncertainty"] == statuses["information_plane"] == "skipped"
    assert statuses["optimizer_comparison"] == "skipped"
    assert "no Dropout" in built["report"]["uncertainty"].text


def test_html_is_self_contained_and_embeds_every_figure(built):
    page = built["files"].html.read_text(encoding="utf-8")
    rep = built["report"]
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page, flags=re.I)
    assert "http://" not in page and "https://" not in page and "url(" not in page
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    figures = [(s, p) for s in rep.sections for p in s.figures]
    assert len(images) == len(figures) >= 7
    pngs = {path.name: path.read_bytes() for path in built["files"].pngs}
    for data, (section, plot) in zip(images, figures):
        raw = base64.b64decode(data)
        assert raw.startswith(PNG) and raw == pngs[section.png_name(plot)] == plot.png
    for s in rep.sections:
        assert f'id="{s.key}"' in page and s.title.replace("'", "&#x27;") in page


def test_pngs_are_written_and_named_by_section(built):
    names = sorted(p.name for p in built["files"].pngs)
    assert "hessian-spectral_density.png" in names and "training-curves.png" in names
    for path in built["files"].pngs:
        assert path.exists() and path.read_bytes().startswith(PNG)


def test_summary_is_strict_json_with_every_section(built):
    text = built["files"].summary.read_text(encoding="utf-8")
    summary = json.loads(text)
    json.dumps(summary, allow_nan=False)
    assert set(summary["sections"]) == set(R.SECTIONS)
    assert summary["overview"]["parameters"] == 4 * 6 + 6 + 6 * 3 + 3
    assert "float64" in summary["overview"]["analysis dtype"]
    for key, s in summary["sections"].items():
        assert s["status"] in R.STATUSES
        assert s["figures"] == [built["report"][key].png_name(p)
                                for p in built["report"][key].figures]


# ---------------------------------------------------------------------------------------------
# The numbers: as the tools return them, and against exact answers
# ---------------------------------------------------------------------------------------------

def _flat_hessian(model, x, y):
    """The dense Hessian, built independently: nm.hessian of the loss of the flat vector."""
    params = model.params
    flat, unravel = nm.ravel_pytree(params)
    loss = model.loss if callable(model.loss) else None
    from nnmath.nn import losses
    fn = losses.get("sparse_categorical_crossentropy") if loss is None else loss

    def f(v):
        return fn(y, model.apply(unravel(v), x, training=False))
    H = nm.hessian(f)(np.asarray(flat))
    return (H + H.T) / 2


def test_hessian_numbers_match_direct_calls_and_the_dense_hessian(built):
    s = built["summary"]["sections"]["hessian"]["summary"]
    model, ctx = built["model"], built["ctx"]
    x, y = built["x"][:SIZES["hessian_samples"]], built["y"][:SIZES["hessian_samples"]]
    direct = A.hessian_top_eigenvalues(model, k=3, x=x, y=y, seed=3)
    np.testing.assert_allclose(s["top_eigenvalues"]["eigenvalues"], direct.eigenvalues,
                               rtol=1e-12)
    H = _flat_hessian(model, x, y)
    exact = np.linalg.eigh(H)[0][::-1]
    np.testing.assert_allclose(s["top_eigenvalues"]["eigenvalues"], exact[:3], rtol=1e-7,
                               atol=1e-10)
    trace = A.hessian_trace(model, num_samples=SIZES["trace_probes"], x=x, y=y, seed=3)
    assert s["trace"]["estimate"] == pytest.approx(trace.estimate, rel=1e-12)
    assert s["trace"]["standard_error"] == pytest.approx(trace.standard_error, rel=1e-12)
    se = s["trace"]["standard_error"]
    assert abs(s["trace"]["estimate"] - np.trace(H)) <= 4 * se + 1e-12
    density = s["spectral_density"]
    assert np.allclose(np.sum(density["weights"], axis=1), 1.0)
    assert s["num_parameters"] == H.shape[0] and s["dtype"] == "float64"
    assert ctx.hessian_objective().dtype == np.float64


def test_weight_numbers_are_the_singular_values(built):
    s = built["summary"]["sections"]["weights"]["summary"]
    for row in s["weight_spectra"]["rows"]:
        w = built["model"].params[row["layer"]][row["weight"]]
        np.testing.assert_allclose(row["singular_values"], np.linalg.svd(w, compute_uv=False),
                                   rtol=1e-12)
        flow = s["analyze_gradient_flow"][f"{row['layer']}/{row['weight']}"]
        assert flow["condition_number"] == pytest.approx(np.linalg.cond(w), rel=1e-10)


def test_landscape_and_path_numbers(built):
    sections = built["summary"]["sections"]
    model, other = built["model"], built["other"]
    n = SIZES["landscape_samples"]
    x, y = built["x"][:n], built["y"][:n]
    at_theta = A.as_objective(model, x=x, y=y).value()
    surface = sections["landscape"]["summary"]["surface"]
    mid = SIZES["landscape_points"] // 2
    assert surface["loss"][mid][mid] == pytest.approx(at_theta, rel=1e-12)
    direct = A.loss_surface_2d(model, alphas=np.linspace(-1, 1, SIZES["landscape_points"]),
                               seed=3, x=x, y=y)
    np.testing.assert_allclose(surface["loss"], direct.loss, rtol=1e-12)
    path = sections["linear_path"]["summary"]
    assert path["training"]["loss_a"] == pytest.approx(at_theta, rel=1e-12)
    assert path["training"]["loss_b"] == pytest.approx(
        A.as_objective(other, x=x, y=y).value(), rel=1e-12)
    test_b = A.as_objective(other, x=built["xt"], y=built["yt"]).value()
    assert path["test"]["loss_b"] == pytest.approx(test_b, rel=1e-12)
    assert path["training"]["barrier"] >= 0


def test_ntk_numbers(built):
    s = built["summary"]["sections"]["ntk"]["summary"]
    x = built["x"][:SIZES["ntk_points"]]
    direct = A.ntk_eigenspectrum(built["model"], None, x)
    np.testing.assert_allclose(s["spectrum"]["eigenvalues"], direct.eigenvalues, rtol=1e-10,
                               atol=1e-12)
    # against the dense J Jᵀ of the flat function, built independently
    model = built["model"]
    flat, unravel = nm.ravel_pytree(model.params)
    J = nm.jacrev(lambda v: model.apply(unravel(v), x, training=False).reshape(-1))(
        np.asarray(flat))
    exact = np.linalg.eigvalsh(J @ J.T)[::-1]
    np.testing.assert_allclose(s["spectrum"]["eigenvalues"], exact, atol=1e-10 * exact[0])
    assert s["spectrum"]["trace"] == pytest.approx(np.sum(J * J), rel=1e-10)


def test_training_numbers_are_the_history(built):
    s = built["summary"]["sections"]["training"]["summary"]
    h = built["history"].history
    assert s["history"]["loss"] == pytest.approx(h["loss"])
    assert s["history"]["val_accuracy"] == pytest.approx(h["val_accuracy"])
    flow = built["summary"]["sections"]["gradient_flow"]["summary"]["history"]
    layer = built["model"].layers[0].name
    assert flow[f"grad_norm/{layer}"] == pytest.approx(h[f"grad_norm/{layer}"])


# ---------------------------------------------------------------------------------------------
# Unavailable, skipped and failed sections
# ---------------------------------------------------------------------------------------------

def test_unavailable_sections_say_so(built, scratch_section):
    scratch_section("pending_tool", "Pending", requires=("no_such_tool",),
                    description="What it would show.")(lambda ctx: R.Section("x"))
    rep = R.build_report(built["ctx"], sections=["pending_tool", "weights"])
    s = rep["pending_tool"]
    assert s.status == "unavailable" and s.figures == [] and s.summary["available"] is False
    assert s.text.startswith("Not available in this version (needs "
                             "nnmath.analysis.no_such_tool)") and "What it would show." in s.text
    assert "Not available in this version" in rep.html()


@pytest.fixture
def scratch_section():
    added = []

    def add(key, *args, **kwargs):
        added.append(key)
        return R.register_section(key, *args, **kwargs)
    yield add
    for key in added:
        R.SECTIONS.pop(key, None)


def test_registry_availability_and_failures(built, scratch_section):
    scratch_section("needs_nothing_yet", "Pending", requires=("no_such_tool",))(
        lambda ctx: R.Section("x"))
    s = R.run_section(R.SECTIONS["needs_nothing_yet"], built["ctx"])
    assert s.status == "unavailable" and "nnmath.analysis.no_such_tool" in s.text
    for key in NEW:                                     # their tools exist now
        assert R.section_available(R.SECTIONS[key]) == (True, [])

    @scratch_section("broken", "Broken", requires=("hessian_trace",))
    def broken(ctx):
        raise RuntimeError("deliberately broken")
    s = R.run_section(R.SECTIONS["broken"], built["ctx"])
    assert s.status == "failed" and "RuntimeError: deliberately broken" in s.text
    with pytest.raises(RuntimeError, match="deliberately broken"):
        R.run_section(R.SECTIONS["broken"], built["ctx"], strict=True)
    with pytest.raises(ValueError, match="already registered"):
        R.register_section("hessian", "again")(lambda ctx: None)
    with pytest.raises(ValueError, match="unknown sections"):
        R.build_report(built["ctx"], sections=["hessian", "nope"])


def test_missing_inputs_are_skipped_with_a_reason(tmp_path):
    model = _model(0)
    x, y = _data()
    ctx = R.ReportContext(model, x, y, **SIZES)
    rep = R.build_report(ctx, sections=["training", "gradient_flow", "linear_path", "weights"])
    assert [s.status for s in rep.sections] == ["skipped", "skipped", "skipped", "ok"]
    assert "history=model.fit" in rep["training"].text
    assert "other_model=" in rep["linear_path"].text
    files = rep.write(tmp_path)
    assert json.loads(files.summary.read_text())["sections"]["training"]["status"] == "skipped"
    assert "Skipped: no History" in files.html.read_text()


def test_float32_model_works_in_its_own_dtype_unless_told():
    model = _model(0, dtype="float32")
    x, y = _data()
    x = x.astype(np.float32)
    small = dict(SIZES, hessian_samples=20, trace_probes=4)
    own = R.ReportContext(model, x, y, **small)
    assert own.analysis_dtype == np.float32
    assert own.hessian_objective().dtype == np.float32
    cast = R.ReportContext(model, x, y, dtype="float64", **small)
    rep = R.build_report(cast, sections=["hessian"], strict=True)
    assert rep["hessian"].summary["dtype"] == "float64"
    assert "cast explicitly" in rep.overview["analysis dtype"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model="not a model"), TypeError, "model must be a compiled nnmath Model, got str"),
    (dict(top_k=0), ValueError, "top_k must be a positive integer, got 0"),
    (dict(trace_probes=1), ValueError, "trace_probes must be at least 2"),
    (dict(dtype="int32"), ValueError, "dtype must be a floating dtype, got int32"),
])
def test_context_errors_name_the_argument(kwargs, error, match):
    args = dict(model=_model(0))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        R.ReportContext(**args)


def test_uncompiled_model_is_refused():
    m = Sequential([layers.Dense(2, input_dim=3, dtype="float64")])
    with pytest.raises(ValueError, match="is not compiled"):
        R.ReportContext(m)


# ---------------------------------------------------------------------------------------------
# render(): figures for a notebook
# ---------------------------------------------------------------------------------------------

def test_render_gives_figures_png_bytes_and_numbers(built):
    model = built["model"]
    x, y = built["x"][:20], built["y"][:20]
    top = A.hessian_top_eigenvalues(model, k=2, x=x, y=y)
    density = A.hessian_spectral_density(model, num_probes=2, lanczos_steps=10, x=x, y=y)
    trace = A.hessian_trace(model, num_samples=4, x=x, y=y)
    section = R.render(built["history"], A.weight_spectra(model), density, top, trace,
                       title="mine")
    names = [p.name for p in section.figures]
    assert names == ["curves", "by_layer", "singular_values", "spectral_density"]
    for p in section.figures:
        assert isinstance(p.figure, Figure) and p.png.startswith(PNG)
        assert p._repr_png_() == p.png
    assert section.summary["TraceResult"] == trace.to_dict()
    assert section.summary["EigenResult"]["eigenvalues"] == top.to_dict()["eigenvalues"]
    assert len(section.tables) == 2 and "tr H" in section.text
    with pytest.raises(TypeError, match="no renderer for a int"):
        R.render(3)


def test_plots_refuse_what_they_cannot_draw():
    with pytest.raises(ValueError, match="GradientFlowMonitor"):
        R.plot_gradient_flow({"loss": [1.0, 0.5]})
    with pytest.raises(TypeError, match="expected a History"):
        R.plot_history(3)
    with pytest.raises(ValueError, match="no training curves"):
        R.plot_history({"grad_norm/dense": [1.0]})


def test_table_rendering():
    rows = [("<b>", 1234567.0), ("x", float("nan")), ("n", 1234567)]
    html = R.html_table(("name", "value"), rows, "cap")
    assert "&lt;b&gt;" in html and "1.23e+06" in html and "NaN" in html and "1,234,567" in html
    assert "<caption>cap</caption>" in html
    assert R.format_number((64, 256)) == "64×256"
    assert R.format_number(True) == "True"


# ---------------------------------------------------------------------------------------------
# Calibration, uncertainty, the information plane and the comparison, on a dropout model
# ---------------------------------------------------------------------------------------------

def _dropout_model(seed, optimizer="adam"):
    set_random_seed(seed)
    m = Sequential([layers.Dense(8, activation="relu", input_dim=4, dtype="float64"),
                    layers.Dropout(0.3),
                    layers.Dense(3, activation="softmax", dtype="float64")])
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.build((None, 4))
    return m


@pytest.fixture(scope="module")
def stochastic():
    x, y = _data(0, 90)
    xt, yt = _data(1, 60)
    model = _dropout_model(0)
    dense = [l.name for l in model.layers if type(l).__name__ == "Dense"]
    plane = A.InformationPlane(x[:40], y[:40], bins=4, base=2, layers=dense)
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0,
                        callbacks=[plane])
    runs = {name: [_dropout_model(s, opt).fit(x, y, epochs=3, batch_size=16,
                                              validation_split=0.2, verbose=0)
                   for s in (1, 2, 3)] for name, opt in (("Adam", "adam"), ("SGD", "sgd"))}
    ctx = R.ReportContext(model, x, y, xt, yt, history=history, seed=2, information_plane=plane,
                          comparison=runs, comparison_setup="Two optimisers, three seeds.",
                          mc_samples=6, laplace_samples=40, calibration_bins=5, **SIZES)
    rep = R.build_report(ctx, sections=list(NEW), strict=True)
    return dict(ctx=ctx, report=rep, model=model, plane=plane, runs=runs, x=x, y=y, xt=xt, yt=yt)


def test_new_sections_are_built(stochastic):
    rep = stochastic["report"]
    assert [s.status for s in rep.sections] == ["ok"] * 4, [s.text for s in rep.sections]
    for s in rep.sections:
        assert s.figures and all(p.png.startswith(PNG) for p in s.figures), s.key
    json.dumps(rep.summary(), allow_nan=False)


def test_calibration_numbers_are_the_tools(stochastic):
    s = stochastic["report"]["calibration"].summary
    probs = stochastic["model"].predict(stochastic["xt"], verbose=0)
    assert s["ece"] == pytest.approx(A.expected_calibration_error(probs, stochastic["yt"], 5),
                                     rel=1e-10)
    direct = A.reliability_diagram(probs, stochastic["yt"], 5)
    np.testing.assert_array_equal(s["reliability"]["bin_count"], direct.bin_count)
    half = len(stochastic["yt"]) // 2
    ts = A.fit_temperature(np.log(probs[:half]), stochastic["yt"][:half])
    assert s["temperature"]["temperature"] == pytest.approx(ts.temperature, rel=1e-6)


def test_uncertainty_numbers_are_the_tools(stochastic):
    s = stochastic["report"]["uncertainty"].summary["mc_dropout"]
    pred = A.mc_dropout_predict(stochastic["model"], stochastic["xt"], 6, seed=2)
    u = A.uncertainty_decomposition(pred.samples)
    assert s["mean_total"] == pytest.approx(float(u.total.mean()), rel=1e-10)
    assert s["mean_epistemic"] == pytest.approx(float(u.epistemic.mean()), rel=1e-10)
    assert s["mean_total"] == pytest.approx(s["mean_aleatoric"] + s["mean_epistemic"], rel=1e-9)
    lap = stochastic["report"]["uncertainty"].summary["laplace"]
    if lap["available"]:
        assert lap["subset"] == "last_layer" and lap["num_parameters"] == 8 * 3 + 3


def test_information_plane_numbers_are_the_callbacks(stochastic):
    s = stochastic["report"]["information_plane"].summary["plane"]
    r = stochastic["plane"].result()
    assert s["epochs"] == [-1, 0, 1, 2] and s["unit"] == "bits"
    for layer in r.layers:
        assert s["i_xt"][layer] == pytest.approx(r.i_xt[layer].tolist())
        assert s["i_ty"][layer] == pytest.approx(r.i_ty[layer].tolist())
    h = stochastic["ctx"].history.history              # the callback also wrote the History
    assert h[f"I(X;T)/{r.layers[0]}"] == pytest.approx(r.i_xt[r.layers[0]][1:].tolist())
    # without the callback, the section reads the History
    ctx = R.ReportContext(stochastic["model"], history=stochastic["ctx"].history)
    again = R.run_section(R.SECTIONS["information_plane"], ctx, strict=True)
    assert again.summary["plane"]["i_xt"][r.layers[0]] == s["i_xt"][r.layers[0]][1:]


def test_comparison_verdict_is_compare_runs(stochastic):
    sec = stochastic["report"]["optimizer_comparison"]
    runs = stochastic["runs"]
    direct = A.compare_runs(runs["Adam"], runs["SGD"], metric="val_loss", names=("Adam", "SGD"))
    assert sec.summary["comparison"]["verdict"] == direct.verdict
    assert direct.verdict in sec.text and sec.text.startswith("Two optimisers, three seeds.")
    assert sec.summary["comparison"]["ttest"]["pvalue"] == pytest.approx(
        float(direct.ttest.pvalue), rel=1e-12)
    with pytest.raises(ValueError, match="comparison must be a dict of two entries"):
        R.ReportContext(stochastic["model"], comparison={"one": []})


def test_demo_monitors_leave_training_identical():
    """GradientFlowMonitor and InformationPlane draw no random numbers from the training's
    generator: the demo's model trains to the same numbers, bit for bit, with and without."""
    from nnmath.cli import _digits_model, demo_callbacks
    from nnmath.training.datasets import load_digits
    X, y = load_digits()
    X = (X / 16.0).astype(np.float32)
    idx = np.arange(300)
    runs = []
    for with_monitors in (False, True):
        model = _digits_model(0)
        cbs = demo_callbacks(model, X, y, idx) if with_monitors else []
        h = model.fit(X[idx], y[idx], epochs=2, batch_size=32, validation_split=0.1, verbose=0,
                      callbacks=cbs)
        runs.append((h.history, model.get_weights(), cbs))
    (h0, w0, _), (h1, w1, cbs) = runs
    for key in h0:
        assert h1[key] == h0[key], key
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))
    assert any(k.startswith("I(X;T)/") for k in h1) and any(k.startswith("grad_norm/") for k in h1)
    assert len(cbs[1].result().epochs) == 3


# ---------------------------------------------------------------------------------------------
# Writing: atomically; without matplotlib
# ---------------------------------------------------------------------------------------------

def test_interrupted_write_leaves_the_old_report(built, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    built["report"].write(out)
    before = sorted(p.name for p in out.iterdir())
    old_summary = (out / "summary.json").read_text()

    def boom(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(R.Report, "html", boom)
    with pytest.raises(KeyboardInterrupt):
        built["report"].write(out)
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "summary.json").read_text() == old_summary
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]          # no temporary folder left
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    with monkeypatch.context() as m:
        m.setattr(R.Report, "html", boom)
        with pytest.raises(KeyboardInterrupt):
            built["report"].write(fresh)
    assert not fresh.exists() and [p.name for p in tmp_path.iterdir()] == ["rep"]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="other files"):
        built["report"].write(other)
    assert (other / "notes.txt").read_text() == "keep"


def test_without_matplotlib_the_report_says_why(tmp_path):
    import subprocess
    import sys
    code = f"""
import sys
sys.modules["matplotlib"] = None          # import matplotlib raises ImportError
import numpy as np
from nnmath import keras, report as R
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.layers.Dense(3, "softmax", input_shape=(2,), dtype="float64")])
m.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x, y = np.random.default_rng(0).standard_normal((30, 2)), np.arange(30) % 3
h = m.fit(x, y, epochs=2, verbose=0)
ctx = R.ReportContext(m, x, y, x, y, history=h, hessian_samples=20, trace_probes=4, slq_probes=2,
                      slq_steps=5)
rep = R.build_report(ctx, sections=["training", "weights", "calibration"])
print([s.status for s in rep.sections], sum(len(s.figures) for s in rep.sections))
rep.write({str(tmp_path / 'rep')!r})
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['ok', 'ok', 'ok'] 0"
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "matplotlib is not installed" in page and 'pip install "nnmath[plot]"' in \
        page.replace("&quot;", '"')
    assert "<img" not in page and not list((tmp_path / "rep").glob("*.png"))
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert "matplotlib is not installed" in summary["sections"]["training"]["text"]


# ---------------------------------------------------------------------------------------------
# result.plot(), Jupyter, History.plot, the palette
# ---------------------------------------------------------------------------------------------

def test_results_plot_and_render_in_jupyter(built):
    from nnmath.analysis import _plot
    model, x, y = built["model"], built["x"][:20], built["y"][:20]
    probs = model.predict(built["xt"], verbose=0)
    results = [A.weight_spectra(model), A.hessian_top_eigenvalues(model, k=2, x=x, y=y),
               A.hessian_trace(model, num_samples=4, x=x, y=y),
               A.hessian_spectral_density(model, num_probes=2, lanczos_steps=8, x=x, y=y),
               A.loss_surface_2d(model, alphas=np.linspace(-1, 1, 3), x=x, y=y),
               A.reliability_diagram(probs, built["yt"], 5),
               A.uncertainty_decomposition(np.stack([probs, probs[::-1]])),
               A.compare_runs([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], metric="loss"),
               A.ttest_ind([1.0, 2.0, 3.0], [2.0, 3.0, 5.0])]
    for r in results:
        drawn = r.plot()
        first = drawn[0] if isinstance(drawn, list) else drawn
        assert first.get_xlabel(), r                      # labelled axes (with units)
        assert first.get_ylabel() or isinstance(r, A.TtestResult), r
        assert r._repr_png_().startswith(PNG) and r._repr_html_() is None
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    ax = Figure().subplots()
    assert results[0].plot(ax=ax) is ax                   # drawn where it is told
    ci = results[-1].confidence_interval()                # a result without a picture: a table
    assert ci._repr_png_() is None and "<table>" in ci._repr_html_()
    with pytest.raises(TypeError, match="has no picture"):
        ci.plot()
    assert _plot.PALETTE[0] == "#0072B2" and len(set(_plot.PALETTE)) == 8


def test_history_plots_its_curves(built):
    axes = built["history"].plot()
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]
    assert [l.get_label() for l in axes[0].get_lines()] == ["training", "validation"]
    assert axes[0].get_xlabel() == "epoch" and axes[0].get_yscale() == "log"
    assert axes[0].get_lines()[0].get_color().lower() == "#0072b2"
    with pytest.raises(ValueError, match="has no \\['nope'\\]"):
        built["history"].plot(["nope"])


def test_every_remaining_result_has_a_labelled_picture():
    """LossSlice1D, BezierCurve, TrajectoryPCA, ConvergenceRate, GradientFlowResult,
    SpectralBiasResult and GradcheckResult, computed by their tools, each draw with labelled axes
    and render as a PNG in Jupyter."""
    import nnmath.keras as keras
    import nnmath.numpy as mnp
    from nnmath.analysis import _plot

    def valley(p):
        return mnp.sum((p[0] ** 2 - 1.0) ** 2) + p[1] ** 2

    a, b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    q = A.quadratic([1.0, 4.0], seed=0)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))

    def build():
        m = keras.Sequential([keras.layers.Dense(8, "tanh", input_shape=(1,), dtype="float64"),
                              keras.layers.Dense(1, dtype="float64")])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return m
    mlp = keras.Sequential([keras.layers.Dense(4, "tanh", input_shape=(3,), dtype="float64"),
                            keras.layers.Dense(1, dtype="float64")])
    mlp.compile(optimizer="sgd", loss="mse")
    trajectory = [np.array([2.0, 1.0, 0.5]), np.array([1.0, 0.4, 0.1]), np.array([0.3, 0.2, 0.0]),
                  np.zeros(3)]
    results = {
        "LossSlice1D": A.loss_slice_1d(valley, a, np.array([1.0, 0.0]),
                                       alphas=np.linspace(-1, 1, 5)),
        "BezierCurve": A.fit_bezier_curve(valley, a, b, num_steps=5, learning_rate=0.1, seed=0),
        "TrajectoryPCA": A.trajectory_pca(trajectory),
        "ConvergenceRate": A.convergence_rate("gd", q, max_iter=50),
        "GradientFlowResult": A.gradient_flow(q, np.ones(2), (0.0, 1.0), learning_rate=0.1),
        "SpectralBiasResult": A.spectral_bias(build, lambda t: np.sin(2 * np.pi * t),
                                              num_points=8, epochs=4, record_every=2),
        "GradcheckResult": A.gradcheck_model(mlp, x, y, max_entries_per_weight=2),
    }
    for name, r in results.items():
        assert type(r).__name__ == name and _plot.plotter_for(r) is not None
        drawn = r.plot()
        axes = drawn if isinstance(drawn, list) else [drawn]
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes), name
        assert r._repr_png_().startswith(PNG), name
    line = results["ConvergenceRate"].plot().get_lines()
    assert len(line) == 3                       # error, gap and the theoretical ρᵏ‖e₀‖
    np.testing.assert_allclose(line[0].get_ydata(), results["ConvergenceRate"].errors)
    assert len(results["GradientFlowResult"].plot()) == 2     # with learning_rate: GD vs flow
