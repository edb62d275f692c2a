"""report.html as a person sees it: opened in real headless Chromium (Debian's ``chromium``; CI
installs it with apt before the tests, see .ci/run), every image decoded (natural width > 0), no
console error, every section's heading on the page; and a screenshot of it is a real picture.

The page itself has no script; the test opens a copy with a small script added that reports what
the browser rendered into the DOM, which ``chromium --dump-dom`` prints.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from nnmath import analysis as A
from nnmath import report as R
from nnmath.keras import layers
from nnmath.training import Sequential, set_random_seed

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs "
                                                         "it: apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0"]

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => __errors.push("error: " + (e.message || e.target.src || e.target.outerHTML.slice(0, 80))), true);
for (const level of ["error", "warn"]) {
  const orig = console[level];
  console[level] = (...a) => { __errors.push(level + ": " + a.join(" ")); orig.apply(console, a); };
}
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete,
                                                   width: i.naturalWidth, height: i.naturalHeight}));
  const headings = [...document.querySelectorAll("section > h2")].map(h => h.firstChild.textContent);
  const out = document.createElement("pre");
  out.id = "nnmath-browser-test";
  out.textContent = JSON.stringify({images, headings, errors: __errors,
                                    width: document.documentElement.scrollWidth});
  document.body.appendChild(out);
});
</script>"""


def _model(seed):
    set_random_seed(seed)
    m = Sequential([layers.Dense(8, activation="relu", input_dim=4, dtype="float64"),
                    layers.Dropout(0.3), layers.Dense(3, activation="softmax", dtype="float64")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.build((None, 4))
    return m


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = 1.5 * np.eye(3, 4)[y] + rng.standard_normal((120, 4))
    model, other = _model(0), _model(1)
    dense = [l.name for l in model.layers if type(l).__name__ == "Dense"]
    monitors = [A.GradientFlowMonitor(x[:16], y[:16]),
                A.InformationPlane(x[:40], y[:40], bins=4, base=2, layers=dense)]
    history = model.fit(x[:90], y[:90], epochs=3, batch_size=16, validation_split=0.2, verbose=0,
                        callbacks=monitors)
    other.fit(x[:90], y[:90], epochs=3, batch_size=16, verbose=0)
    runs = {name: [_model(s).fit(x[:90], y[:90], epochs=2, batch_size=16, validation_split=0.2,
                                 verbose=0) for s in (2, 3, 4)] for name in ("A", "B")}
    ctx = R.ReportContext(model, x[:90], y[:90], x[90:], y[90:], history=history,
                          other_model=other, information_plane=monitors[1], comparison=runs,
                          hessian_samples=40, top_k=3, trace_probes=6, slq_probes=2, slq_steps=10,
                          landscape_points=5, landscape_samples=40, path_points=5, ntk_points=8,
                          mc_samples=4, laplace_samples=40, calibration_bins=5)
    rep = R.build_report(ctx, title="browser test")
    out = tmp_path_factory.mktemp("browser")
    files = rep.write(out / "report")
    return rep, files, out


def _chromium(*args, timeout=120):
    proc = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True,
                          timeout=timeout)
    return proc


def test_every_image_renders_no_console_errors_every_heading(page):
    rep, files, out = page
    html = files.html.read_text(encoding="utf-8")
    probe = out / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    proc = _chromium("--virtual-time-budget=10000", "--window-size=1100,900", "--dump-dom",
                     probe.as_uri())
    m = re.search(r'<pre id="nnmath-browser-test">(.*?)</pre>', proc.stdout, flags=re.S)
    assert m, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<")
                        .replace("&gt;", ">").replace("&amp;", "&"))
    figures = [p for s in rep.sections for p in s.figures]
    assert len(result["images"]) == len(figures) >= 10
    for img in result["images"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert result["headings"] == [s.title for s in rep.sections]
    assert result["errors"] == []
    console = [l for l in proc.stderr.splitlines() if ":CONSOLE" in l]
    assert console == [], console
    assert result["width"] <= 1100                     # nothing wider than the window


def test_screenshot_is_a_real_picture(page):
    from PIL import Image
    rep, files, out = page
    shot = out / "shot.png"
    proc = _chromium("--window-size=1100,1400", f"--screenshot={shot}", files.html.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    im = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert im.shape == (1400, 1100)
    assert im.std() > 20                               # text and figures, not a blank page
    assert (im < 128).mean() > 0.01
