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
PENDING = ("calibration", "uncertainty", "information_plane", "optimizer_comparison")


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
                "ntk"):
        assert statuses[key] == "ok", (key, built["report"][key].text)


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

def test_pending_sections_say_not_available(built):
    page = built["files"].html.read_text(encoding="utf-8")
    for key in PENDING:
        s = built["summary"]["sections"][key]
        assert s["status"] == "unavailable" and s["figures"] == []
        assert s["text"].startswith("Not available in this version")
        assert s["summary"]["available"] is False
        for name in R.SECTIONS[key].requires:
            if not hasattr(A, name):
                assert name in s["summary"]["missing"] and f"nnmath.analysis.{name}" in page
    assert page.count("Not available in this version") >= sum(
        not R.section_available(R.SECTIONS[k])[0] for k in PENDING)


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
