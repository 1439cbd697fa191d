"""The wheel holds every file ibench reads at run time, the build says nothing, and the floors do not drift.

The wheel is built the way pip builds it (setuptools' PEP 517 backend, no build isolation: offline) from a
copy of the tracked files, so the checkout gets no ``build/`` or ``*.egg-info``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
#: files ibench opens at run time, as wheel paths (the issue's list); each glob must match at least one file
RUNTIME_DATA = ["ibench/evaluators/judge/prompts/*.yaml", "ibench/evaluators/judge/configs/*.yaml",
                "ibench/human_eval/static/*", "ibench/tasks/*.yaml", "ibench/configs/*.yaml", "ibench/resources/*"]


def tracked_files() -> list[str]:
    """Repository-relative paths of the files git would commit (every file when this is not a checkout)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
            and not any(part == "__pycache__" or part.startswith((".venv", ".git")) for part in p.parts)]


def package_files() -> dict[str, str]:
    """Each tracked file under a package folder -> its path inside the wheel (``package-dir`` applied)."""
    mapping = SETUPTOOLS["package-dir"]
    out = {}
    for rel in tracked_files():
        parts = rel.split("/")
        for package, folder in sorted(mapping.items(), key=lambda kv: -len(kv[1])):
            if parts[0] == folder:
                out[rel] = "/".join([*package.split("."), *parts[1:]])
                break
    return out


def test_every_folder_with_files_is_a_listed_package_and_back():
    """A new sub-package (code or data) that is not in ``packages`` would silently miss the wheel."""
    listed = set(SETUPTOOLS["packages"])
    on_disk = {str(Path(wheel_path).parent).replace("/", ".") for wheel_path in package_files().values()}
    missing, stale = sorted(on_disk - listed), sorted(listed - on_disk)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert not stale, f"listed in [tool.setuptools] packages but no such folder with files: {stale}"


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> tuple[Path, str]:
    """(the wheel, what the build printed), built from a copy of the tracked files."""
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, (f"setuptools {setuptools.__version__} cannot build ibench (pyproject's build-system needs "
                         f">=77): pip install -c .ci/constraints.txt -e '.[test]'")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for rel in tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # its "byte-compiling is
    # disabled" note is not the build's own
    proc = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                           "print(b.build_wheel(sys.argv[1]))", str(out)],
                          cwd=src, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    return out / proc.stdout.strip().splitlines()[-1], log


def test_the_build_prints_no_warning(built_wheel):
    _, log = built_wheel
    steps = ("copying ", "adding ", "creating ", "writing ", "running ", "removing ", "reading ", "installing ")
    noisy = [line.strip() for line in log.splitlines() if not line.strip().startswith(steps)  # file names
             and re.search(r"warn|would be ignored|deprecat", line, re.IGNORECASE)]
    assert not noisy, "the wheel build warned:\n" + "\n".join(noisy[:20])


def test_the_wheel_holds_every_tracked_file_and_the_runtime_data(built_wheel):
    wheel, _ = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    left_out = sorted(rel for rel, inside in package_files().items() if inside not in names)
    assert not left_out, f"files missing from the wheel (add a [tool.setuptools.package-data] glob): {left_out}"
    for glob in RUNTIME_DATA:
        folder, pattern = glob.rsplit("/", 1)
        hits = [n for n in names if n.rsplit("/", 1)[0] == folder and Path(n).match(pattern)]
        assert hits, f"nothing in the wheel matches {glob}"
    assert "ibench/evaluators/judge/prompts/v1.yaml" in names and "ibench/human_eval/static/rater.js" in names
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert b"ibench = ibench.cli:main" in entry


def declared_floors() -> dict[str, str]:
    """Distribution name -> the ``>=`` bound pyproject.toml declares (core, every extra, the build backend)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = PYPROJECT["project"]
    specs = [*project["dependencies"], *PYPROJECT["build-system"]["requires"]]
    specs += [s for extra in project["optional-dependencies"].values() for s in extra]
    floors: dict[str, str] = {}
    for spec in specs:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        if name == "ibench":
            continue
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"pyproject.toml: {spec!r} needs exactly one >= bound (its floor)"
        assert floors.setdefault(name, lower[0]) == lower[0], f"pyproject.toml: two floors for {req.name}"
        if "binary" in req.extras:  # psycopg[binary] installs psycopg-binary at the same version
            floors[canonicalize_name(f"{req.name}-binary")] = lower[0]
    return floors


def pinned_minimums() -> dict[str, tuple[str, str]]:
    """Distribution name -> (pinned version, the line's comment) from .ci/minimums.txt."""
    from packaging.utils import canonicalize_name

    pins = {}
    comment = ""
    for line in (ROOT / ".ci" / "minimums.txt").read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if m:
            assert canonicalize_name(m[1]) not in pins, f".ci/minimums.txt pins {m[1]} twice"
            pins[canonicalize_name(m[1])] = (m[2], comment)
            comment = ""
        elif line.startswith("#"):
            comment += line
        else:
            assert not line.strip(), f".ci/minimums.txt: not a `name==version` pin: {line!r}"
            comment = ""
    return pins


def test_the_declared_floors_are_the_pinned_minimums():
    """pyproject's lower bounds and .ci/minimums.txt (what CI installs) never drift apart."""
    from packaging.version import Version

    floors, pins = declared_floors(), pinned_minimums()
    assert sorted(floors) == sorted(pins), (f"only in pyproject: {sorted(set(floors) - set(pins))}; "
                                            f"only in .ci/minimums.txt: {sorted(set(pins) - set(floors))}")
    for name, (pin, why) in pins.items():
        assert why, f".ci/minimums.txt: say why {name} {pin} is the floor, in a comment line above it"
        if "machine pin" in why:  # torch/torchvision: this machine's wheels, at or above the declared floor
            assert Version(pin) >= Version(floors[name]), f"{name}: machine pin {pin} below the floor {floors[name]}"
        else:
            assert Version(pin) == Version(floors[name]), (f"{name}: pyproject says >={floors[name]}, "
                                                           f".ci/minimums.txt pins {pin}")
    assert {n for n, (_, why) in pins.items() if "machine pin" in why} == {"torch", "torchvision"}
