"""What browser tests need: a Jupyter server of the project's own, and Debian's Chromium.

The server (JupyterLab, or Voilà) runs from the project's virtual environment on a
free local port, in a scratch folder, with its own settings and workspace folders so
that nothing from the machine's user leaks in. Chromium is the one Debian installs
(``apt-get install chromium``, done by ``make system-deps``); Playwright only drives
it and never downloads a browser of its own.

Every wait here is for something to happen (a port to answer, an element to appear,
the kernel to go idle), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from course_tools import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("NNCOURSE_CHROMIUM", "/usr/bin/chromium")
#: headless and quiet: without the networking flags Chromium keeps calling hosts this
#: machine cannot reach; as root it needs --no-sandbox (its own sandbox needs a user)
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run",
                 "--disable-default-apps", "--mute-audio"]
#: a laptop's screen, which is what a student and a projector show
VIEWPORT = {"width": 1400, "height": 1000}

#: settings for the test's JupyterLab: every cell in the page (not only those in view),
#: no news pop-up over the notebook, no autosave writing while the test reads
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until ``url`` answers 200; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)  # polling a port, not waiting for the page
    raise RuntimeError(f"the server did not answer {url} in {timeout} s:\n{log.read_text()}")


@contextlib.contextmanager
def jupyter_server(root: Path, command: str = "lab", args=(), ready_path: str = "/api/status",
                   timeout: float = 180):
    """Start JupyterLab (``command="lab"``) or Voilà serving ``root``; yield (base url, token).

    The server's log is written to ``root/../<command>-server.log``.
    """
    port, token = free_port(), secrets.token_hex(16)
    home = Path(root).parent / f"{command}-home"
    settings = home / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    bin_dir = Path(sys.executable).parent
    if command == "voila":  # Voilà 0.5 installs a `voila` command, not `jupyter voila`
        argv = [str(bin_dir / "voila"), f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1"]
    else:
        argv = [str(bin_dir / "jupyter"), command, f"--port={port}", "--no-browser",
                "--ip=127.0.0.1"]
    if command == "lab":
        argv += [f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
                 "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"]
    argv += list(args)
    log = Path(root).parent / f"{command}-server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        probe = f"{base}{ready_path}" + (f"?token={token}" if command == "lab" else "")
        _wait_for_http(probe, process, log, timeout)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium under Playwright; yields the Playwright Browser."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run 'make system-deps' (apt-get install "
                           "chromium) or set NNCOURSE_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page_or_locator, name: str) -> Path:
    """Save a screenshot under test-artifacts/browser/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page_or_locator.screenshot(path=str(path))
    return path


def scratch_course(path: Path) -> Path:
    """A copy of the course to serve: autosaves and validation must not touch the repo."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    for folder in ("solutions", "notebooks"):
        shutil.copytree(ROOT / folder, path / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return path


def move_a_control(view) -> str:
    """Change one control of the dashboard ``view`` (a Locator) as a person would.

    A button is pressed (the digits trainer's Train), else a dropdown is set to
    another option, else a toggle is switched on, else a slider is dragged.
    Returns what was done, in words.
    """
    action = view.locator("button.mod-primary")
    if action.count():
        label = action.first.inner_text().strip()
        action.first.click()
        return f"pressed {label!r}"
    menus = view.locator("select")
    if menus.count():
        # by value: a label's spaces are drawn as non-breaking ones
        menu = menus.first
        options = menu.locator("option").evaluate_all("options => options.map(o => o.value)")
        current = menu.input_value()
        other = next(o for o in options if o != current)
        menu.select_option(value=other)
        return f"chose {other!r} instead of {current!r}"
    toggles = view.locator("button.widget-toggle-button:not(.mod-active)")
    if toggles.count():
        label = toggles.first.inner_text().strip()
        toggles.first.click()
        return f"toggled {label!r}"
    handle = view.locator(".noUi-handle").first
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page = view.page
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=5)
    page.mouse.up()
    return "dragged a slider"


# JavaScript run in the page. A dashboard's figure is the last image in its view.
_DRAWN = ("([selector, expected]) => { const views = document.querySelectorAll(selector);"
          " if (views.length !== expected) return false;"
          " return [...views].every(view => { const images = [...view.querySelectorAll('img')];"
          "   return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0)"
          "     && !view.textContent.includes('Error displaying widget'); }); }")
_NEW_FIGURE = ("([selector, index, before]) => {"
               " const images = document.querySelectorAll(selector)[index].querySelectorAll('img');"
               " const img = images[images.length - 1];"
               " return img.getAttribute('src') !== before && img.complete"
               "   && img.naturalWidth > 0; }")


def wait_until_drawn(page, selector: str, expected: int) -> None:
    """Until ``expected`` dashboards match ``selector``, each with every image loaded and
    none saying "Error displaying widget"."""
    page.wait_for_function(_DRAWN, arg=[selector, expected])


def change_each_dashboard(page, selector: str, names) -> list[str]:
    """Move one control of each dashboard matching ``selector``; assert its figure changed.

    For the i-th dashboard, screenshots ``names[i]-before`` and ``-after`` are saved.
    The Image widget shows a new figure under a new URL: that is waited for (and, after
    a button press, for the button to be enabled again, which ends a training run), then
    the pixels are compared. Returns what was done to each, in words.
    """
    views, done = page.locator(selector), []
    for index, name in enumerate(names):
        view = views.nth(index)
        view.scroll_into_view_if_needed()
        image = view.locator("img").last
        before_src, before = image.get_attribute("src"), image.screenshot()
        screenshot(view, f"{name}-before")
        what = move_a_control(view)
        page.wait_for_function(_NEW_FIGURE, arg=[selector, index, before_src])
        if what.startswith("pressed"):
            view.locator("button.mod-primary:not([disabled])").wait_for()
        screenshot(view, f"{name}-after")
        assert image.screenshot() != before, f"{name}: {what}, but its figure did not change"
        done.append(what)
    return done
