"""The layout rules of docs/extending.md, checked over the code's own imports: no import circles,
layers import only downwards, conf/<group>/ <-> imgexp/<group>/ one to one, one job per module
name, and modules and functions short enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "imgexp"

# Lowest first; a module may import its own layer and the layers below it, never above.
LAYERS = [
    ("tracking", ["imgexp.tracking", "imgexp.paths"]),
    ("components", [
        "imgexp.config", "imgexp.config_checks", "imgexp.errors", "imgexp.targets",
        "imgexp.dataset", "imgexp.model", "imgexp.optimizer",
        "imgexp.schedule", "imgexp.augmentation", "imgexp.trainer", "imgexp.evaluation",
        "imgexp.predict",
    ]),
    ("runner and groups", ["imgexp.job", "imgexp.runner", "imgexp.groups", "imgexp.rerun",
                           "imgexp.reproduce", "imgexp.reproduce_table"]),
    ("entry points", ["imgexp.cli", "imgexp.api", "imgexp"]),
]  # fmt: skip
# conf/ groups that only configure Hydra itself or compose other groups: no code of their own.
CONFIG_ONLY_GROUPS = {"experiment", "hparams_search", "hydra"}
# imgexp/ packages that no config group selects: commands and groups of runs.
CODE_ONLY_PACKAGES = {"cli", "groups", "evaluation", "predict"}
# Names each group package may use for the same job: its schema and its builder.
SHARED_ROLES = {"__init__", "__main__", "schema", "build"}
MAX_MODULE_LINES = 260
MAX_FUNCTION_LINES = 62


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every imgexp module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer_of(module: str) -> int:
    """The layer of a module: the longest matching prefix wins (imgexp.cli before imgexp)."""
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best >= 0, f"{module} belongs to no layer: add it to LAYERS"
    return best


def test_no_import_circles() -> None:
    """Depth-first search over imports between modules (package __init__ files excluded: a
    package importing its own submodules is not a circle)."""
    graph = {m: {d for d in deps if d != m} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for dependency in sorted(graph[module]):
            if state.get(dependency) == 1:
                circles.append(" -> ".join(trail[trail.index(dependency) :] + [dependency]))
            elif dependency not in state:
                visit(dependency, [*trail, dependency])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_layers_import_only_downwards() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {dependency} "
        f"({LAYERS[layer_of(dependency)][0]})"
        for module, deps in GRAPH.items()
        for dependency in deps
        if layer_of(dependency) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


def test_nothing_below_the_entry_points_imports_them() -> None:
    entry = ("imgexp.cli", "imgexp.api")
    offenders = [
        f"{module} imports {dependency}"
        for module, deps in GRAPH.items()
        if not module.startswith(entry) and module != "imgexp"
        for dependency in deps
        if dependency.startswith(entry)
    ]
    assert not offenders, "\n".join(offenders)


def test_groups_never_import_the_runner() -> None:
    offenders = [m for m, deps in GRAPH.items() if m.startswith("imgexp.groups") and
                 "imgexp.runner" in deps]  # fmt: skip
    assert not offenders, offenders


def test_config_groups_and_packages_map_one_to_one() -> None:
    groups = {p.name for p in (ROOT / "conf").iterdir() if p.is_dir()} - CONFIG_ONLY_GROUPS
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - CODE_ONLY_PACKAGES
    assert groups == packages, (
        f"conf/ groups without a package: {sorted(groups - packages)}; "
        f"packages without a conf/ group: {sorted(packages - groups)}"
    )


def test_no_two_modules_share_a_name() -> None:
    by_name: dict[str, list[str]] = {}
    for module in MODULES.values():
        if module.stem not in SHARED_ROLES:
            by_name.setdefault(module.stem, []).append(str(module.relative_to(ROOT)))
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py")}
    clashes = {name: where for name, where in by_name.items() if len(where) > 1}
    clashes |= {name: where for name, where in by_name.items() if name in packages}
    assert not clashes, clashes


@pytest.mark.parametrize("path", list(MODULES.values()), ids=list(MODULES))
def test_modules_and_functions_stay_short(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path}: split this module"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path}: {', '.join(long)}"


def test_every_package_and_conf_folder_is_declared_for_installs() -> None:
    """setuptools warns about (and may leave out) any package or data folder not listed."""
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                   ["packages"])  # fmt: skip
    code = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    conf = {
        ".".join(("imgexp", "conf", *p.relative_to(ROOT / "conf").parts)).rstrip(".")
        for p in [ROOT / "conf", *(ROOT / "conf").rglob("*")]
        if p.is_dir() and p.name != "__pycache__"
    }
    assert declared == code | conf
