"""The demos as a lecture hall sees them: ``make demo``'s Voilà in Debian's Chromium.

Voilà runs from the project's environment on a free port, with the presenter
configuration that ``make demo`` uses (demos/voila.json, and the ``presenter`` template
found through JUPYTER_PATH in demos/share/jupyter), serving a copy of demos/. For every
demo notebook, Playwright checks that

- the page renders every preset: one live dashboard per ``show()``, each figure loaded;
- it shows no code, no error and no traceback;
- its text is large enough for a hall (see MIN_TEXT_PX and MIN_CONTROL_PX), and every
  figure fills the page's width;
- nothing is fetched from outside the server: the page works offline;
- each preset's first picture is exactly the PNG ``course_lib.presenter.figure`` draws,
  and a second load of the demo, in a new kernel, shows the same bytes again;
- moving one control of each dashboard, as a presenter would, changes its figure.

The tree page that lists the demos is checked too. Screenshots are saved under
test-artifacts/browser/. Every wait is for something to happen, never a fixed sleep.
"""

from __future__ import annotations

import hashlib
import re
import shutil

import nbformat
import pytest
from browser_tools import (
    VIEWPORT,
    change_each_dashboard,
    chromium,
    jupyter_server,
    screenshot,
    wait_until_drawn,
)
from course_tools import ASSIGNMENTS, ROOT

from course_lib import presenter

DEMOS = ROOT / "demos"
#: a page renders in seconds; the margin is for a machine busy with other tests
TIMEOUT_MS = 300_000
#: Body text (markdown, each preset's title and sentences). 24 px is 1/40 of a
#: 1000-pixel-high screen: projected 2 m high, its capitals are about 3.4 cm tall, which
#: is 15 minutes of arc, three times the size a normal eye can just read (5'), from 8 m.
MIN_TEXT_PX = 24
#: Control labels and readouts, which the presenter reads more than the hall: ipywidgets'
#: 13 px zoomed by 1.5 in the presenter's stylesheet.
MIN_CONTROL_PX = 19

#: A dashboard shown in the page: a widget view at the top of an output.
VIEW = ".jp-OutputArea-output > .jupyter-widgets"
#: What would load something from another host, even only when needed (a stylesheet, a
#: script, a module imported on demand such as Mermaid's or MathJax's loader).
_REMOTE_LOAD = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="https?://|import\(\s*"https?://')

# JavaScript run in the page
_FIGURE_HASHES = ("async () => { const hashes = [];"
                  " for (const view of document.querySelectorAll('" + VIEW + "')) {"
                  "   const data = await (await fetch(view.querySelector('img').src)).arrayBuffer();"
                  "   const digest = await crypto.subtle.digest('SHA-256', data);"
                  "   hashes.push([...new Uint8Array(digest)]"
                  "     .map(b => b.toString(16).padStart(2, '0')).join('')); }"
                  " return hashes; }")
# the font size a reader sees: CSS zoom (the presenter's controls) scales the computed one
_SMALLEST_FONT = ("(selector) => { const sizes = [...document.querySelectorAll(selector)]"
                  "   .filter(e => e.offsetParent !== null && e.textContent.trim())"
                  "   .map(e => parseFloat(getComputedStyle(e).fontSize) * (e.currentCSSZoom || 1));"
                  " return sizes.length ? Math.min(...sizes) : null; }")
_FIGURE_FILLS = ("() => [...document.querySelectorAll('" + VIEW + "')].map(view => "
                 "  view.querySelector('img').getBoundingClientRect().width"
                 "  / view.getBoundingClientRect().width)")


def _shown(path) -> list[str]:
    """The presets a demo shows, in order (its cells are ``show("name")``)."""
    names = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            names += [line.split('"')[1] for line in cell.source.splitlines()
                      if line.startswith("show(")]
    return names


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base url, browser): Voilà serving a copy of demos/ as ``make demo`` does."""
    scratch = tmp_path_factory.mktemp("demo")
    root = scratch / "demos"
    shutil.copytree(DEMOS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints",
                                                              "__pycache__"))
    with pytest.MonkeyPatch.context() as env:
        # the presenter template; Voilà reads demos/voila.json from its working folder
        env.setenv("JUPYTER_PATH", str(root / "share" / "jupyter"))
        with jupyter_server(root, command="voila", ready_path="/voila/tree") as (base, _), \
                chromium() as browser:
            yield base, browser


@pytest.fixture
def open_page(server):
    """open_page(path) -> (page, requests to other hosts, failed requests of ``path``)."""
    base, browser = server
    contexts = []

    def open_(path):
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        outside, failed = [], []

        # A lecture hall may be offline: nothing may come from elsewhere. (Watched, not
        # intercepted: with interception on, Chromium drops the page's last request.)
        context.on("request", lambda request: outside.append(request.url)
                   if not request.url.startswith((base, "data:", "blob:")) else None)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # The way in is the list of demos, as with make demo. It also sets the _xsrf
        # cookie, without which Voilà refuses what a demo's page sends as it is left,
        # asking to shut its kernel down.
        page.goto(f"{base}/voila/tree")
        page.locator(".jp-DirListing-item").first.wait_for()
        if path != "voila/tree":
            page.on("response", lambda response: failed.append(
                f"{response.status} {response.url}") if response.status >= 400
                and not response.url.endswith("/favicon.ico") else None)
            page.goto(f"{base}/{path}")
        return page, outside, failed

    yield open_
    for context in contexts:
        context.close()


def _open_demo(open_page, name, shown):
    page, outside, failed = open_page(f"voila/render/{name}.ipynb")
    wait_until_drawn(page, VIEW, len(shown))
    return page, outside, failed


def _leave(page):
    """Leave the demo as a presenter would: on its way out the page has Voilà shut its
    kernel down (a beacon), so that the demos' kernels do not pile up on the machine."""
    page.goto("about:blank")


@pytest.mark.parametrize("name", [folder for folder, _ in ASSIGNMENTS])
def test_demo_renders_large_offline_the_same_each_time_and_responds(open_page, name):
    shown = _shown(DEMOS / f"{name}.ipynb")
    assert shown, f"{name} shows no preset"
    page, outside, failed = _open_demo(open_page, name, shown)
    screenshot(page, f"demo-{name}")

    text = page.inner_text("body")
    assert page.locator(".jp-CodeCell .jp-InputArea, .cm-editor, .jp-InputPrompt").count() == 0
    assert "show(" not in text and "course_lib" not in text, "code is shown"
    for sign in ("Traceback", "error when executing", "Error displaying widget"):
        assert sign not in text, f"the page says {sign!r}"
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    for preset in shown:
        assert presenter.PRESETS[preset].title in text

    smallest_text = page.evaluate(_SMALLEST_FONT, ".jp-RenderedHTMLCommon p")
    assert smallest_text >= MIN_TEXT_PX, f"body text of {smallest_text}px"
    smallest_control = page.evaluate(
        _SMALLEST_FONT, f"{VIEW} .widget-label, {VIEW} .widget-readout, {VIEW} select, "
                        f"{VIEW} button")
    assert smallest_control >= MIN_CONTROL_PX, f"control text of {smallest_control}px"
    assert min(page.evaluate(_FIGURE_FILLS)) >= 0.9, "a figure does not fill the page's width"

    first = page.evaluate(_FIGURE_HASHES)
    expected = [hashlib.sha256(presenter.figure(preset)).hexdigest() for preset in shown]
    assert first == expected, "the page does not show the presets' pictures"
    assert not outside, f"fetched from outside the server: {outside}"
    assert not _REMOTE_LOAD.findall(page.content()), "the page can load from another host"
    assert not failed, f"requests that failed: {failed}"
    _leave(page)

    # loaded again, as a presenter reopens it: the same pictures, and every dashboard on the
    # page responds to its controls
    again, _, _ = _open_demo(open_page, name, shown)
    assert again.evaluate(_FIGURE_HASHES) == first, "a second load drew other pictures"
    change_each_dashboard(again, VIEW, [f"demo-{name}-{preset}" for preset in shown])
    text = again.inner_text("body")
    assert "Traceback" not in text and "error when executing" not in text
    _leave(again)


def test_tree_lists_the_demos_in_large_type(open_page):
    page, outside, _ = open_page("voila/tree")
    items = page.locator(".jp-DirListing-itemText")
    items.nth(len(ASSIGNMENTS) - 1).wait_for()
    screenshot(page, "demo-tree")
    assert items.all_inner_texts() == [f"{folder}.ipynb" for folder, _ in ASSIGNMENTS]
    assert page.evaluate(_SMALLEST_FONT, ".jp-DirListing-itemText") >= 20
    assert not outside, f"fetched from outside the server: {outside}"
