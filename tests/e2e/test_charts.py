"""Charts in Chromium: plot.images draws each picture on a labelled canvas, pixel for value, and redraws in place."""
from conftest import open_module

PAGE = "modules/01-tensor/"

DRAW = """
import numpy as np
from tinytorch_wasm import plot
def pictures(ramp):
    plot.images("Test pictures", [np.array(ramp), np.array([[np.nan, 5.0, 5.0]])], labels=["ramp", "broken"])
pictures([[3.0, 2.0], [1.0, 0.0]])
plot.line([1, 2], {"loss": [1.0, 0.5]}, title="A line after them")
pictures([[0.0, 1.0], [2.0, 3.0]])   # the same title again: redrawn where it stood
"""

PIXELS = """figure => [...figure.querySelectorAll("canvas")].map((canvas) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const pixels = [];
    for (let i = 0; i < data.length; i += 4) pixels.push([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    return { width: canvas.width, height: canvas.height, label: canvas.getAttribute("aria-label"),
             role: canvas.getAttribute("role"), shown: canvas.getBoundingClientRect().width, pixels };
})"""


def run_scratch(page, code):
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", code)
    page.locator("button", has_text="Run scratch").click()
    page.wait_for_function("window.tinytorch.runtime.state === 'ready'")


def test_images_draw_each_value_as_a_grey_pixel(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    run_scratch(page, DRAW)
    figure = page.wait_for_selector("figure.tt-images")  # the second, redrawn version: ramp 0, 1, 2, 3
    assert figure.get_attribute("aria-label") == "Test pictures"
    ramp, broken = figure.evaluate(PIXELS)
    assert (ramp["width"], ramp["height"]) == (2, 2) and ramp["role"] == "img"
    assert ramp["label"] == "ramp: 2 by 2 values, black 0, white 3"
    assert [p[0] for p in ramp["pixels"]] == [0, 85, 170, 255], "each picture spans black (its min) to white (its max)"
    assert all(p[0] == p[1] == p[2] and p[3] == 255 for p in ramp["pixels"]), "values are drawn grey and opaque"
    assert ramp["shown"] >= 64, "a 2x2 picture is scaled up on screen, not drawn 2 pixels wide"
    assert broken["pixels"][0][:3] == [198, 40, 40], "NaN is drawn red, not as a plausible grey"
    assert page.inner_text("figure.tt-images").split("\n")[:1] == ["Test pictures"]
    assert page.locator("figure.tt-images figcaption", has_text="broken").count() == 1
    charts = page.evaluate("[...document.querySelectorAll('.tt-workbench .tt-chart')].map(f => f.getAttribute('aria-label'))")
    assert charts == ["Test pictures", "A line after them"], f"one grid, redrawn in its place: {charts}"
    assert page.tt_errors == []


BARS = """
from tinytorch_wasm import plot
plot.bars(["conv", "relu"], {"ms": [2.0, 0.5]}, title="Per layer", xlabel="ms")
plot.line([1, 2], {"loss": [1.0, 0.5]}, title="A line after them")
plot.bars(["conv", "relu", "a much longer layer name"], {"ms": [2.0, 0.5, 1.0], "KB": [3.0, 4.0, 5.0]},
          title="Per layer", xlabel="ms")   # the same title, new rows and a second series: redrawn where it stood
"""


def test_bars_draw_a_row_per_label_and_redraw_in_place(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    run_scratch(page, BARS)
    charts = page.evaluate("[...document.querySelectorAll('.tt-workbench .tt-chart')].map(f => f.getAttribute('aria-label'))")
    assert charts == ["Per layer", "A line after them"], f"one bar chart, redrawn in its place: {charts}"
    bars = page.locator(".tt-workbench .tt-chart").first
    assert bars.locator("canvas").count() == 1
    legend = bars.inner_text()
    assert "ms" in legend and "KB" in legend, f"both series should be in the legend: {legend!r}"
    shown = bars.bounding_box()
    assert shown["height"] > 100 and shown["width"] > 200, f"the chart should be drawn, got {shown}"
    assert page.tt_errors == []
