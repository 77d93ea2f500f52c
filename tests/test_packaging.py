"""The two ways to install the course name the same packages, and the config is the course's."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import yaml
from course_tools import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as vendored by pip
    from pip._vendor import tomli as tomllib


def _requirement(spec: str) -> tuple[str, str]:
    """'ipywidgets>=8,<9' -> ('ipywidgets', '>=8,<9'), names normalised like PyPI's.

    Every package of the course has the same name on conda-forge and PyPI.
    """
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [
        spec for group in project["optional-dependencies"].values() for spec in group
    ]
    return dict(_requirement(s) for s in specs), project["requires-python"]


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    packages = dict(_requirement(s) for s in conda)
    python = packages.pop("python")
    packages.pop("pip")
    return packages, python, pip


def test_environment_yml_and_pyproject_name_the_same_packages_and_versions():
    """environment.yml (conda, Binder) and pyproject.toml (pip) install the same things."""
    pip_deps, requires_python = _pyproject()
    conda_deps, python, _ = _environment()
    assert conda_deps == pip_deps
    assert python == requires_python


def test_environment_yml_installs_the_course_package():
    """conda users get course_lib too, from this folder, in editable mode."""
    _, _, pip = _environment()
    assert pip == [{"pip": ["-e ."]}]


def test_nbgrader_config_points_at_the_course_layout():
    """nbgrader reads solutions/ and releases into notebooks/ for course nn-basics."""
    class Section(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Section())

        def __setattr__(self, name, value):
            self[name] = value

    config = Section()
    runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": lambda: config})
    assert config.CourseDirectory.course_id == "nn-basics"
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "notebooks"


def test_every_solution_has_its_release_and_nothing_else_is_released():
    """One assignment per folder: solutions/X/Y.ipynb is released as notebooks/X/Y.ipynb."""
    def notebooks(top: Path):
        return {p.relative_to(top) for p in top.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}

    assert notebooks(ROOT / "solutions") == notebooks(ROOT / "notebooks")
    assert notebooks(ROOT / "solutions"), "no assignments found"
