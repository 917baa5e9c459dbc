"""The layout is the architecture: layers import one way, nothing imports in a circle, parts are
objects rather than mixins, and ``docs/architecture.md`` names every folder there is."""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import pkgutil
import re
import textwrap
from pathlib import Path
from typing import Any

import grimp
from importlinter import cli as importlinter_cli
from pydantic import BaseModel

import media
import pexbot

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pexbot"
TOP_LEVEL_FILES = {"__init__.py", "__main__.py", "errors.py", "py.typed"}


# -- imports -----------------------------------------------------------------------------------


def test_import_contracts_are_kept() -> None:
    # The contracts in pyproject.toml: the layer order, the emulator's reach into the client,
    # the emulator's own layers, and media/ knowing nothing of pexbot.
    status = importlinter_cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert status == importlinter_cli.EXIT_STATUS_SUCCESS


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(graph.find_modules_directly_imported_by(root))))
        while work:
            node, children = work[-1]
            if children:
                child = children.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.find_modules_directly_imported_by(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    # Type-checking imports count: a loop hidden behind TYPE_CHECKING is still a loop.
    graph = grimp.build_graph("pexbot", "media", exclude_type_checking_imports=False)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    # The check above must be able to fail.
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


def test_media_imports_nothing_of_pexbot() -> None:
    graph = grimp.build_graph("pexbot", "media", exclude_type_checking_imports=False)
    assert len(graph.find_children("media")) > 10
    for module in graph.find_children("media") | {"media"}:
        imported = graph.find_modules_directly_imported_by(module)
        assert not {m for m in imported if m.split(".")[0] == "pexbot"}, module


# -- layout ------------------------------------------------------------------------------------


def test_top_level_holds_only_the_package_files_and_folders() -> None:
    files = {p.name for p in PACKAGE.iterdir() if p.is_file()}
    assert files <= TOP_LEVEL_FILES, files - TOP_LEVEL_FILES
    for folder in (p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        assert (folder / "__init__.py").is_file(), f"{folder} has no __init__.py (its face)"


def _folders() -> set[str]:
    return {
        p.relative_to(ROOT).as_posix() + "/"
        for p in [*PACKAGE.rglob("*"), *(ROOT / "media").rglob("*")]
        if p.is_dir() and p.name != "__pycache__"
    } | {"pexbot/", "media/"}


def _documented_folders() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## What each folder owns", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `((?:pexbot|media)/(?:\w+/)*)`", section, re.M))


def test_architecture_doc_lists_every_folder() -> None:
    assert _documented_folders() == _folders()


def test_tests_mirror_the_layers() -> None:
    layers = [p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"]
    layers += [
        p for p in (PACKAGE / "emulator").iterdir() if p.is_dir() and p.name != "__pycache__"
    ]
    for layer in layers:
        tests = ROOT / "tests" / layer.relative_to(PACKAGE)
        assert list(tests.rglob("test_*.py")), f"no tests/{layer.relative_to(PACKAGE)}/test_*.py"


def test_every_layer_face_declares_all() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init} has no docstring"
        if init.parent.name in {"cli"}:
            continue
        names = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert "__all__" in names, f"{init} has no __all__"


# -- parts are objects, not mixins ----------------------------------------------------------------


def _all_modules() -> list[Any]:
    modules = []
    for package in (pexbot, media):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            # importing Locust patches this process with gevent (pexbot[load] is optional)
            if info.name.endswith("__main__") or "locust" in info.name:
                continue
            modules.append(importlib.import_module(info.name))
    return modules


def _is_value_kind(base: type) -> bool:
    """Bases that carry no shared mutable state: fine to inherit from."""
    if issubclass(base, BaseException | BaseModel | enum.Enum):
        return True
    if getattr(base, "_is_protocol", False):
        return True
    if dataclasses.is_dataclass(base) and base.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return True  # data definitions (the event classes)
    return issubclass(base, tuple)  # NamedTuple


INITIALISERS = {"__init__", "__post_init__", "__new__"}


def _self_reads_and_owned(cls: type) -> tuple[set[str], set[str]]:
    """What ``cls``'s methods read of ``self``, and what it owns: assigns while initialising."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    reads: set[str] = set()
    owned: set[str] = set(getattr(cls, "__dataclass_fields__", {}))
    for method in ast.walk(tree):
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(method):
            if isinstance(node, ast.AugAssign):
                node = node.target  # reads as well as writes
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    if node.value.id == "self":
                        reads.add(node.attr)
                continue
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                if not isinstance(node.ctx, ast.Store):
                    reads.add(node.attr)
                elif method.name in INITIALISERS:
                    owned.add(node.attr)
    return reads, owned


OURS = ("pexbot.", "media.")


def mixin_violations(classes: list[type], ours: tuple[str, ...] = OURS) -> list[str]:
    """A base class of our own that uses state it does not own is a mixin: one object spread
    over files, sharing ``self``. Each such base is listed with the attributes it borrows."""
    found = []
    for cls in classes:
        for base in cls.__bases__:
            if not base.__module__.startswith(ours) or _is_value_kind(base):
                continue
            reads, _ = _self_reads_and_owned(base)
            owned: set[str] = set()
            for klass in base.__mro__:
                if klass.__module__.startswith(ours):
                    owned |= _self_reads_and_owned(klass)[1]
            borrowed = {a for a in reads - owned if not hasattr(base, a)}
            if borrowed:
                found.append(f"{cls.__qualname__}({base.__qualname__}): {sorted(borrowed)}")
    return found


def _our_classes() -> list[type]:
    classes = []
    for module in _all_modules():
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                classes.append(obj)
    return classes


def test_no_class_gains_state_from_a_mixin_of_ours() -> None:
    assert mixin_violations(_our_classes()) == []


class _Owner:
    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> None:
        self.count += 1


class _Borrower:
    def bump(self) -> None:
        self.count += 1  # type: ignore[attr-defined]


class _Mixed(_Borrower):
    def __init__(self) -> None:
        self.count = 0


class _Whole(_Owner):
    pass


def test_the_mixin_check_can_fail() -> None:
    assert mixin_violations([_Mixed, _Whole], ours=(__name__,)) == ["_Mixed(_Borrower): ['count']"]
