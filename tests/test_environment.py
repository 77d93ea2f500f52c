"""An environment built from environment.yml runs the course, as a class's image would.

repo2docker (Binder, and the image a JupyterHub serves) installs environment.yml
and then runs postBuild. Here the same packages are installed with pip into a new
virtual environment (conda-forge and PyPI name them alike: test_packaging.py), the
pip section is installed as written, postBuild is run, and a finished notebook is
executed in that environment's own kernel.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import venv

import nbformat
import pytest
import yaml
from course_tools import ROOT

NOTEBOOK = ROOT / "solutions" / "01_activations" / "activations.ipynb"


def _run(env_bin, *argv, timeout=900):
    """Run a command of the built environment; fail with its output if it fails."""
    env = {**os.environ, "PATH": os.pathsep.join([str(env_bin), os.environ["PATH"]]),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("JUPYTER_PATH", None)
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, argv))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bin folder of a virtual environment holding what environment.yml names."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    packages = [d for d in env["dependencies"]
                if isinstance(d, str) and d.split(">")[0].split("=")[0] not in ("python", "pip")]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    prefix = tmp_path_factory.mktemp("image") / "env"
    venv.create(prefix, with_pip=True)
    env_bin = prefix / "bin"
    _run(env_bin, env_bin / "python", "-m", "pip", "install", "--quiet", *packages)
    # each line as conda hands it to pip, in environment.yml's folder ("-e ." is two words)
    _run(env_bin, env_bin / "python", "-m", "pip", "install", "--quiet",
         *(word for line in pip_section for word in shlex.split(line)))
    return env_bin


def test_postbuild_leaves_students_validate_and_hides_the_instructors_tools(built):
    """After postBuild, Validate and the assignment list are on; Formgrader and the rest off."""
    _run(built, "bash", ROOT / "postBuild")
    labextensions = _run(built, built / "jupyter", "labextension", "list")
    disabled = labextensions.split("Disabled extensions:", 1)[1]
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled
    for plugin in ("validate-assignment", "assignment-list"):
        assert f"@jupyter/nbgrader:{plugin}" not in disabled
    servers = _run(built, built / "jupyter", "server", "extension", "list")
    state = {line.split()[0]: line.split()[1] for line in servers.splitlines()
             if line.strip().startswith("nbgrader.server_extensions.") and len(line.split()) > 1
             and "abled" in line}
    assert "disabled" in state["nbgrader.server_extensions.formgrader"]
    assert "enabled" in state["nbgrader.server_extensions.validate_assignment"]
    assert "disabled" not in state["nbgrader.server_extensions.validate_assignment"]


def test_a_finished_notebook_runs_in_the_built_environment(built, tmp_path):
    """The instructor's activations notebook executes there, in that environment's kernel."""
    out = tmp_path / "ran.ipynb"
    _run(built, built / "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=600", "--output", str(out), NOTEBOOK)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    # the kernel was the built environment's Python, not this one's
    assert sys.prefix not in _run(built, built / "python", "-c", "import sys; print(sys.prefix)")
