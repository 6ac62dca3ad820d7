"""``nncli report``: one self-contained HTML file that compares runs, checked as text and, in a
slow test, rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from helpers import run_dirs, write

from nncli import rundata

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored: the browser's screenshot lands here
IRIS = ("name: iris\nseed: 1\ndata: {dataset: iris}\nmodel: {hidden: [8]}\noptimizer: {lr: 0.01}\n"
        "training: {epochs: 3}\n")
MAX_BYTES = 5 * 2**20


class Page(HTMLParser):
    """The parts of the report a test looks at: tags, attributes, code, text, images, table cells."""

    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.images, self.heads, self.rows = set(), [], [], [], []
        self.text, self.code = [], []  # text nodes; the insides of <script> and <style>
        self._cell = self._code = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = tag
        elif tag in ("script", "style"):
            self._code = tag

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._cell = None
        elif tag in ("script", "style"):
            self._code = None

    def handle_data(self, data):
        (self.code if self._code else self.text).append(data)
        if self._cell == "th":
            self.heads.append(data)
        elif self._cell == "td":
            self.rows[-1].append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def assert_self_contained(path: Path) -> Page:
    """No URL of any kind outside plain text: no attribute, style or script refers to anything,
    every image is inline; "http" may appear only in text a person reads."""
    raw = path.read_text(encoding="utf-8")
    page = parse(path)
    assert not page.tags & {"link", "iframe", "object", "embed", "base", "frame", "audio", "video", "source"}
    data_uri = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+=*")
    for tag, key, value in page.attrs:
        if key in ("src", "href", "srcset", "action", "poster", "data"):
            assert key == "src" and data_uri.fullmatch(value), (tag, key, value[:80])
            continue  # base64 may spell "http" by chance; the pattern above allows nothing else
        assert "http" not in value.lower() and not value.strip().startswith("//"), (tag, key, value[:80])
    code = "".join(page.code)
    for bad in ("http", "url(", "@import", "fetch(", "XMLHttpRequest", "import(", "src="):
        assert bad not in code, bad
    assert data_uri.sub("", raw).count("http") == sum(t.count("http") for t in page.text)
    return page


def test_report_compares_runs_in_one_self_contained_file(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    # the sweep's directory is tmp_path/runs: a directory of runs, one per trial
    r = nncli("sweep", cfg, "--runs-dir", tmp_path, "--name", "runs", "--quiet", "--set", "plots=false",
              "--grid", "optimizer.lr=[0.1, 0.01]", "--grid", "model.hidden=[[4], [8]]")
    assert r.code == 0, r.err
    out = tmp_path / "report.html"
    r = nncli("report", "t00*", "--runs-dir", tmp_path / "runs", "-o", out)
    assert (r.code, r.out) == (0, f"{out}\n"), r.err
    assert out.stat().st_size < MAX_BYTES
    page = assert_self_contained(out)
    # the table: what differs between the configs, and the final scores of every run
    assert page.heads[:4] == ["run", "status", "model.hidden", "optimizer.lr"]
    assert {"test accuracy", "validation accuracy", "train accuracy", "test loss"} <= set(page.heads)
    body = [row for row in page.rows if row and len(row) == len(page.heads)]
    assert sorted(row[0] for row in body) == ["iris-t000", "iris-t001", "iris-t002", "iris-t003"]
    runs_ = {r.name: r for r in map(rundata.read_run, run_dirs(tmp_path / "runs"))}
    for row in body:
        final = runs_[row[0]].summary["final"]
        assert row[page.heads.index("test accuracy")] == f"{final['test']['accuracy']:.4f}"
    # the pictures: overlaid learning curves, then one confusion matrix per run, all real PNGs
    assert len(page.images) == 1 + 4
    for img in page.images:
        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int(img["width"]), int(img["height"])) == (int.from_bytes(png[16:20], "big"),
                                                            int.from_bytes(png[20:24], "big"))
        assert img["alt"]
    # the sorting script and the table it sorts
    text = out.read_text()
    assert 'id="runs"' in text and "addEventListener(\"click\"" in text


def test_report_needs_force_to_overwrite(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    assert nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet").code == 0
    out = write(tmp_path / "report.html", "keep me")
    r = nncli("report", tmp_path / "runs", "-o", out)
    assert r.code == 2 and "--force" in r.err and out.read_text() == "keep me"
    assert nncli("report", tmp_path / "runs", "-o", out, "--force").code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_escaping_keeps_config_text_as_text(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    for desc in ("<script>alert(1)</script>", "see http://example.com & more"):
        r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet", "--set", f"description={desc}")
        assert r.code == 0, r.err
    out = tmp_path / "report.html"
    assert nncli("report", tmp_path / "runs", "-o", out).code == 0
    text = out.read_text()
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert_self_contained(out)  # the URL in a description is plain text, nothing loads it


# ---------------------------------------------------------------- in a real browser
def chromium() -> str:
    """The Chromium executable; a missing browser fails the test unless skipping was asked for."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("NNCLI_SKIP_BROWSER") == "1":
        pytest.skip("NNCLI_SKIP_BROWSER=1: the browser test was turned off")
    pytest.fail("the report's browser test needs Chromium: apt-get update && apt-get install -y chromium "
                "(or set NNCLI_SKIP_BROWSER=1 to skip it on purpose)")


def browser(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with no network of its own: no updates, sync or background fetches."""
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


# run in the page once it has loaded: what loaded, and what a click on a header does
CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var table = document.getElementById("runs");
  var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent; });
  function column(name) {
    var i = heads.indexOf(name);
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[i].textContent; });
  }
  var th = table.tHead.rows[0].cells[heads.indexOf("optimizer.lr")];
  th.click();
  var up = column("optimizer.lr");
  th.click();
  var down = column("optimizer.lr");
  var out = {images: imgs.length, sizes: imgs.map(function (i) { return [i.naturalWidth, i.naturalHeight]; }),
             complete: imgs.every(function (i) { return i.complete; }),
             rows: table.tBodies[0].rows.length, heads: heads, up: up, down: down,
             sort: th.getAttribute("aria-sort"), scrollWidth: document.documentElement.scrollWidth};
  var pre = document.createElement("pre");
  pre.id = "nncli-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.slow
def test_the_report_of_a_six_run_sweep_renders_in_chromium(tmp_path):
    exe = chromium()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs_dir = tmp_path / "runs"
    sweep = subprocess.run(
        [sys.executable, "-m", "nncli", "sweep", str(ROOT / "configs" / "digits.yaml"), "--runs-dir", str(tmp_path),
         "--name", "runs", "--quiet", "--set", "training.epochs=6", "--grid", "optimizer.lr=[0.01, 0.001]",
         "--grid", "model.hidden=[[16], [32], [64]]"], env=env, capture_output=True, text=True, timeout=600)
    assert sweep.returncode == 0, sweep.stderr
    assert len(run_dirs(runs_dir)) == 6
    report = tmp_path / "report.html"
    made = subprocess.run([sys.executable, "-m", "nncli", "report", str(runs_dir), "-o", str(report)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    assert report.stat().st_size < MAX_BYTES
    assert_self_contained(report)

    checked = tmp_path / "checked.html"
    checked.write_text(report.read_text().replace("</body>", CHECK + "</body>"))
    dom = browser(exe, tmp_path / "profile1", "--virtual-time-budget=10000", "--dump-dom", checked.as_uri())
    found = re.search(r'<pre id="nncli-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the page did not run its check; chromium said: {dom.stderr[-2000:]}"
    got = json.loads(html.unescape(found.group(1)))
    assert got["rows"] == 6
    assert got["images"] == 7 and got["complete"]  # the overlaid curves and six confusion matrices
    assert all(w > 0 and h > 0 for w, h in got["sizes"]), got["sizes"]
    assert got["heads"][:4] == ["run", "status", "model.hidden", "optimizer.lr"]
    # clicking the header sorts by it, numerically, then the other way
    assert got["up"] == sorted(got["up"], key=float) and got["down"] == got["up"][::-1]
    assert got["sort"] == "descending"
    assert got["scrollWidth"] <= 1280, "the page is wider than the window"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = browser(exe, tmp_path / "profile2", "--hide-scrollbars", f"--screenshot={shot}",
                   "--window-size=1280,2000", report.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    print(f"screenshot of the report: {shot}")
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert np.unique((pixels[..., :3].reshape(-1, 3) * 255).astype(np.uint8), axis=0).shape[0] > 50
