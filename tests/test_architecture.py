"""The house rules, checked on the real imports: the dependency rule of docs/ARCHITECTURE.md, no import
circle (between modules or between packages), and no module over ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Installed name -> folder (pyproject's package-dir mapping).
FOLDERS = {"ibench": "ibench", "ibench.tasks": "tasks", "ibench.configs": "configs", "ibench.evaluators": "evaluators",
           "ibench.human_eval": "human_eval"}
#: The dependency rule: which ibench package may import which (docs/ARCHITECTURE.md).
UTILITIES = {"ibench", "ibench.errors", "ibench.stats", "ibench.weights", "ibench.ranking", "ibench.progress", "ibench.devices", "ibench.extras"}  # "ibench": __version__
ALLOWED = {
    "ibench": set(),
    "ibench.__main__": {"ibench.cli"},
    "ibench.errors": set(),
    "ibench.stats": set(),
    "ibench.progress": set(),  # progress bars / plain lines (tqdm), shared by generation and scoring
    "ibench.ranking": {"ibench.core"},  # Bradley–Terry over ibench.core.pairwise records
    "ibench.weights": {"ibench.errors"},
    "ibench.devices": {"ibench.errors"},
    "ibench.extras": {"ibench.errors"},
    "ibench.tasks": set(),
    "ibench.configs": set(),
    "ibench.core": {"ibench.errors", "ibench.tasks"},
    "ibench.data": {"ibench.core"} | UTILITIES,
    "ibench.models": {"ibench.core"} | UTILITIES,
    "ibench.run": {"ibench.core", "ibench.data", "ibench.models"} | UTILITIES,
    "ibench.evaluators": {"ibench.core", "ibench.data"} | UTILITIES,
    "ibench.human_eval": {"ibench.core"} | UTILITIES,
    "ibench.meta": {"ibench.core", "ibench.evaluators", "ibench.human_eval", "ibench.data"} | UTILITIES,
    "ibench.report": {"ibench.core", "ibench.evaluators", "ibench.human_eval", "ibench.meta"} | UTILITIES,
    "ibench.gate": {"ibench.core", "ibench.evaluators", "ibench.report"} | UTILITIES,  # baseline, check, compare
    "ibench.packs": {"ibench.core", "ibench.data", "ibench.evaluators"} | UTILITIES,  # benchmark packs (issue 23)
    "ibench.cli": {"ibench.core", "ibench.data", "ibench.models", "ibench.run", "ibench.evaluators",
                   "ibench.human_eval", "ibench.meta", "ibench.report", "ibench.gate", "ibench.packs"} | UTILITIES,
}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Every ibench module by installed name, the package-dir mapping applied."""
    out = {}
    for pkg, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if folder == "ibench" and parts[0] in ("evaluators", "human_eval", "tasks", "configs"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([pkg, *parts])] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The ibench modules ``name`` imports anywhere (functions included, ``TYPE_CHECKING`` blocks not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if _type_checking(node) for n in ast.walk(node)}
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ibench"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "ibench":
                continue
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                found.add(sub if sub in known else mod)
    return {m for m in found if m != name}


def package(module: str) -> str:
    """The rule's unit a module belongs to: ``ibench.report.tables`` -> ``ibench.report``."""
    for pkg in sorted(ALLOWED, key=len, reverse=True):
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    return module


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_every_module_belongs_to_a_package_of_the_rule(graph):
    assert all(package(m) in ALLOWED for m in graph), sorted(m for m in graph if package(m) not in ALLOWED)


def test_no_forbidden_arrow(graph):
    bad = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                 if package(d) != package(m) and package(d) not in ALLOWED[package(m)])
    assert not bad, "imports the dependency rule forbids:\n" + "\n".join(bad)


def test_no_import_circle_between_modules(graph):
    assert _cycle({m: {d for d in deps if d in graph} for m, deps in graph.items()}) is None


def test_no_import_circle_between_packages(graph):
    edges: dict[str, set[str]] = {}
    for m, deps in graph.items():
        edges.setdefault(package(m), set()).update(package(d) for d in deps if package(d) != package(m))
    assert _cycle(edges) is None


def test_the_checker_sees_a_circle_and_a_forbidden_arrow():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert "ibench.report" not in ALLOWED["ibench.core"] and package("ibench.report.tables") == "ibench.report"
    assert "ibench.gate" not in ALLOWED["ibench.report"] and package("ibench.gate.check") == "ibench.gate"


def test_no_module_is_too_long():
    files = [p for folder in ("ibench", "evaluators", "human_eval", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    long = sorted(f"{p.relative_to(ROOT)} ({n} lines)" for p in files
                  if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES)
    assert not long, long
