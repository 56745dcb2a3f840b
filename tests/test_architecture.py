"""The architecture as a contract (issue 26): the package tree, the layer diagram of the docs and
the import contracts (``.importlinter``, checked by ``lint-imports`` in the test command) agree; no
module reaches into another module's private names; every result that can fail says how it ended
with a member of one status family."""

from __future__ import annotations

import ast
import configparser
import dataclasses
import importlib
import importlib.util
import inspect
import re
import typing
from pathlib import Path

import pytest

import noetherlab as nl
from noetherlab import distributed, training
from noetherlab._core.status import Status

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "noetherlab"


def _layers(contract: str) -> list[list[str]]:
    """The layers of a layers contract of ``.importlinter``, top first, siblings grouped."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    lines = [ln.strip() for ln in cfg[f"importlinter:contract:{contract}"]["layers"].splitlines()]
    return [[m.strip() for m in re.split(r"[|:]", ln)] for ln in lines if ln]


def test_the_package_tree_is_the_layer_contract():
    # every package and module at the top of noetherlab is in a layer (the face, __init__, is
    # above them all), and every layer exists
    layered = {
        m for contract in ("part-a-layers", "part-b-layers") for g in _layers(contract) for m in g
    }
    top = {
        "noetherlab." + (p.stem if p.is_file() else p.name)
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert top == layered


def test_the_documented_diagram_is_the_contract():
    # docs/architecture.md draws the Part A layers, top first, with the same sibling groups
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    drawn = [
        sorted(re.findall(r"noetherlab\.[a-z_]+", line))
        for line in block.splitlines()
        if "noetherlab." in line
    ]
    assert drawn == [sorted(g) for g in _layers("part-a-layers")]
    for group in _layers("part-b-layers"):  # and Part B's column
        assert all(m in text for m in group)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _private_reaches(path: Path, here: str) -> list[str]:
    """``from noetherlab.x import _y`` (``_y`` not a module) and ``module._y`` in the file of the
    module ``here``."""
    tree = ast.parse(path.read_text())
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("noetherlab"):
            assert node.level == 0, f"{here}: relative import"
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _is_module(full):
                    modules.add(alias.asname or alias.name)
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{here} imports {full}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("noetherlab") and alias.asname:
                    modules.add(alias.asname)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{here} uses {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        for hit in _private_reaches(path, _module_name(path))
    ]
    assert found == []


def test_the_private_name_check_sees_a_reach(tmp_path):
    # the check itself: a file that imports a private function and one that uses one are caught
    bad = tmp_path / "probe.py"
    bad.write_text(
        "from noetherlab.sde.model import _check_spd\n"
        "from noetherlab.ensembles import simulation\n"
        "x = simulation._run_chunk\n"
    )
    assert _private_reaches(bad, "noetherlab.probe") == [
        "noetherlab.probe imports noetherlab.sde.model._check_spd",
        "noetherlab.probe uses simulation._run_chunk",
    ]


# ------------------------------------------------------------------------------ statuses
#: every public result type that can end in more than one way, and the family of its status
RESULTS = {
    "PathResult": nl.PathStatus,
    "HamiltonianTrajectory": nl.PathStatus,
    "StringResult": nl.PathStatus,
    "Transition": nl.PathStatus,
    "Escape": nl.PathStatus,
    "LawCount": nl.CountStatus,
    "SymmetryReport": nl.CountStatus,
    "LearnedSymmetries": nl.CountStatus,
    "FixedPointSearch": nl.SearchStatus,
    "SlowPointSearch": nl.SearchStatus,
    "Branch": nl.SearchStatus,
    "LimitCycle": nl.SearchStatus,
    "SweepResult": nl.SweepStatus,
    "SplittingResult": nl.SplittingStatus,
    "SampledExitTime": nl.SplittingStatus,
}
TRAINING_RESULTS = {
    "PolynomialLaws": nl.CountStatus,
    "AugmentationReport": nl.CountStatus,
    "LiftedReport": nl.CountStatus,
    "TrainingCheck": nl.FlowStatus,
    "MethodDrift": nl.FlowStatus,
    "Trajectory": nl.FlowStatus,
    "LawEvolution": nl.FlowStatus,
}
VERDICTS = ("converged", "certified", "successful")


def _public_classes() -> dict[str, type]:
    out: dict[str, type] = {}
    for space, names in (
        (nl, nl.__all__),
        (training, training.__all__),
        (distributed, distributed.__all__),
    ):
        for name in names:
            obj = getattr(space, name)
            if inspect.isclass(obj) and not issubclass(obj, Status):
                out[name] = obj
    from noetherlab.training import check, flows, lifted, symmetry

    for mod in (check, flows, lifted, symmetry):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                out[name] = obj
    return out


def _status_type(cls: type) -> object:
    attr = inspect.getattr_static(cls, "status", None)
    if isinstance(attr, property):
        return typing.get_type_hints(attr.fget)["return"]
    return typing.get_type_hints(cls).get("status")


def test_every_result_says_how_it_ended_with_one_status_family():
    classes = _public_classes()
    expected = {**RESULTS, **TRAINING_RESULTS}
    assert set(expected) <= set(classes)
    for name, cls in classes.items():
        verdicts = [v for v in (*VERDICTS, "status") if hasattr(cls, v) or _is_field(cls, v)]
        if not verdicts:
            assert name not in expected
            continue
        family = _status_type(cls)
        assert inspect.isclass(family) and issubclass(family, Status), name
        assert family is expected[name], name
        for v in VERDICTS:  # a verdict is read off the status, never stored beside it
            assert not _is_field(cls, v), f"{name}.{v} is a field"


def _is_field(cls: type, name: str) -> bool:
    return dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("family", Status.__subclasses__())
def test_each_status_family_has_a_success_and_reads_its_names_back(family):
    assert any(m.ok for m in family) and any(not m.ok for m in family)
    for member in family:
        assert family.named(member.name) is member and member.meaning
    with pytest.raises(nl.errors.InvalidArgumentError, match="is not a"):
        family.named("no such status")


def test_the_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    assert nl.__version__ == version("noetherlab")
    assert importlib.import_module("noetherlab._core.version").VERSION == nl.__version__


def test_no_package_shadows_a_public_name_of_the_face():
    # importing a subpackage binds it on the package: a package named like a public function
    # (``landscape``) would replace ``nl.landscape`` once anything imported it
    for p in SRC.rglob("__init__.py"):
        importlib.import_module(_module_name(p))
    modules = {"errors", "io", "models", "plotting"}
    for name in nl.__all__:
        assert inspect.ismodule(getattr(nl, name)) == (name in modules), name


def test_import_and_help_do_not_import_jax_and_float64_still_holds():
    # issue 32: `import noetherlab` and `noetherlab --help` answer without JAX; JAX imported later
    # still runs in float64 with noetherlab's compilation cache (set through its environment)
    import subprocess
    import sys

    probe = (
        "import sys, contextlib, io\n"
        "import noetherlab\n"
        "from noetherlab.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        app(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'Usage' in out.getvalue()\n"
        "assert 'jax' not in sys.modules, 'jax imported'\n"
        "import jax, jax.numpy as jnp\n"
        "assert jnp.ones(2).dtype == jnp.float64\n"
        "assert jax.config.jax_compilation_cache_dir\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("JAX_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
