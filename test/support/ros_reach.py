"""Which tests need ROS 2, found by reading the source (no import): test/conftest.py marks them `ros`.

A Python file *reaches ROS* when it imports a ROS module (ros_packages.is_ros_module) or a module of this
repository (vla_ros.*, a test support module) that reaches ROS. Test code (test modules and test/support) also
reaches a module by naming it as a string, since that is how tests start processes: a module path such as
"vla_ros.ros.node" (for `python -m` and NodeProcess), or a console script of setup.py's EXECUTABLES as the first
item of a list (an argv: `["vla_node", "--ros-args"]`). A test that starts a ROS process some other way
carries `pytest.mark.ros` by hand. Two depths are told apart:

- at import: only the statements that run when the file is imported (module level, class bodies). A test
  module that reaches ROS this way cannot even be collected without rclpy.
- at run time: every import in the file, function bodies included, followed through every reached file. This
  over-approximates (a lazily imported ROS helper may never be called by a given test) and never misses a
  static import, which is the side to err on for a ROS-free subset.

In a test module, what sits in the body of a `test_*` function marks only that test; everything else
(module level, fixtures, helpers) marks every test of the module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ros_packages import is_ros_module


@dataclass(frozen=True)
class References:
    """What a piece of source imports, names as a string, and starts as a program (an argv list's first item)."""

    imported: frozenset[str] = frozenset()
    named: frozenset[str] = frozenset()
    started: frozenset[str] = frozenset()

    def __or__(self, other: References) -> References:
        return References(self.imported | other.imported, self.named | other.named, self.started | other.started)


@dataclass
class TestModuleReach:
    at_import: bool  # importing the module needs ROS
    whole_module: bool  # every test of the module may need ROS
    tests: set[str] = field(default_factory=set)  # names of the test functions that may need ROS


class _Collector(ast.NodeVisitor):
    """Imports (absolute names), string constants and argv heads of some source; the bodies of the functions
    defined in it only with `into_functions` (they run when called, not when the module is imported)."""

    def __init__(self, package: str, into_functions: bool) -> None:
        self.package = package
        self.into_functions = into_functions
        self.imported: set[str] = set()
        self.named: set[str] = set()
        self.started: set[str] = set()

    def collect(self, nodes: Iterable[ast.AST]) -> References:
        for node in nodes:
            self.visit(node)
        return References(frozenset(self.imported), frozenset(self.named), frozenset(self.started))

    def visit_Import(self, node: ast.Import) -> None:
        self.imported.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parent = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        self.imported.add(base)
        self.imported.update(f"{base}.{alias.name}" for alias in node.names)

    def visit_Constant(self, node: ast.Constant) -> None:
        # "vla_ros.ros.node", "vla_node", or "module:Class" as torch model packages name their module.
        if isinstance(node.value, str):
            module = node.value.partition(":")[0]
            if module and all(part.isidentifier() for part in module.split(".")):
                self.named.add(module)

    def visit_List(self, node: ast.List) -> None:
        # ["vla_node", "--ros-args", ...]: only in that place is a console script's name taken as a process
        # start; elsewhere "vla_node" is a node name or a word in a message.
        first = node.elts[0] if node.elts else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            self.started.add(first.value)
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):  # `if TYPE_CHECKING:` imports never run
            self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Decorators and default values run where the function is defined.
        for child in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults):
            if child is not None:  # a keyword-only argument without a default
                self.visit(child)
        if self.into_functions:
            for statement in node.body:
                self.visit(statement)

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 (ast.NodeVisitor's naming)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if self.into_functions:
            self.visit(node.body)


def console_scripts_of(setup_py: Path) -> dict[str, str]:
    """setup.py's EXECUTABLES (console script name -> "module:function"), read without running setup.py."""
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXECUTABLES":
            return ast.literal_eval(node.value)
    raise LookupError(f"no EXECUTABLES in {setup_py}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _references(nodes: Iterable[ast.AST], package: str, into_functions: bool = True) -> References:
    return _Collector(package, into_functions).collect(nodes)


def _test_functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    def is_test(node: ast.AST) -> bool:
        return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")

    for node in tree.body:
        if is_test(node):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from (child for child in node.body if is_test(child))


class RosReach:
    """Reads the repository's sources once each and answers which files and tests reach ROS."""

    def __init__(self, repo_root: Path, support_dir: Path, console_scripts: dict[str, str]) -> None:
        self.repo_root = repo_root
        self.support_dir = support_dir
        # "vla_node" -> "vla_ros.ros.node": a test that runs the console script reaches that module.
        self.console_scripts = {name: target.partition(":")[0] for name, target in console_scripts.items()}
        self._references_cache: dict[tuple[Path, bool], References] = {}
        self._edges_cache: dict[tuple[Path, bool], tuple[bool, set[Path]]] = {}
        self._files: dict[tuple[str, Path | None], Path | None] = {}
        self._reaches_cache: dict[tuple[Path, bool], bool] = {}
        self._test_modules: dict[Path, TestModuleReach] = {}

    # ----- resolving names to files -----
    def module_file(self, module: str, importer_dir: Path | None = None) -> Path | None:
        key = (module, importer_dir)
        if key not in self._files:
            self._files[key] = self._find_module_file(module, importer_dir)
        return self._files[key]

    def _find_module_file(self, module: str, importer_dir: Path | None) -> Path | None:
        parts = module.split(".")
        if parts[0] == "vla_ros":
            base = self.repo_root
        elif (self.support_dir / f"{parts[0]}.py").is_file():
            base = self.support_dir
        elif importer_dir is not None and (importer_dir / f"{parts[0]}.py").is_file():
            base = importer_dir  # a sibling module, importable through pytest's rootdir-relative sys.path
        else:
            return None
        path = base.joinpath(*parts)
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def _package_of(self, path: Path) -> str:
        try:
            relative = path.relative_to(self.repo_root)
        except ValueError:
            return ""
        parts = list(relative.with_suffix("").parts)
        return ".".join(parts if path.name == "__init__.py" else parts[:-1])

    def _edges(self, references: References, importer: Path) -> tuple[bool, set[Path]]:
        """(a ROS module is imported directly, the repository files the references lead to)."""
        direct = any(is_ros_module(name) for name in references.imported)
        files: set[Path] = set()
        names = (set(references.imported) | set(references.named)
                 | {self.console_scripts[name] for name in references.started if name in self.console_scripts})
        importer_dir = None if importer.is_relative_to(self.repo_root / "vla_ros") else importer.parent
        for name in names:
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                found = self.module_file(".".join(parts[:depth]), importer_dir)
                if found is None:
                    break
                files.add(found)
        return direct, files

    # ----- per file (each file is parsed once) -----
    def _references_of(self, path: Path, at_import: bool) -> References:
        key = (path, at_import)
        if key not in self._references_cache:
            tree = ast.parse(path.read_text(), filename=str(path))
            package = self._package_of(path)
            at_run_time = _references(tree.body, package)
            if path.is_relative_to(self.repo_root / "vla_ros"):
                # The package's own modules count by their imports alone: the ones that start ROS processes
                # also talk to them through rclpy, while their strings are mostly default arguments and
                # messages ("vla_ros.ros.node" as NodeProcess's default would mark every user of wait_until).
                at_run_time = References(imported=at_run_time.imported)
            # A string runs nothing at import.
            self._references_cache[(path, True)] = References(
                imported=_references(tree.body, package, into_functions=False).imported)
            self._references_cache[(path, False)] = at_run_time
        return self._references_cache[key]

    def _file_edges(self, path: Path, at_import: bool) -> tuple[bool, set[Path]]:
        key = (path, at_import)
        if key not in self._edges_cache:
            self._edges_cache[key] = self._edges(self._references_of(path, at_import), path)
        return self._edges_cache[key]

    def _reaches(self, start: References, importer: Path, at_import: bool) -> bool:
        direct, frontier = self._edges(start, importer)
        seen: set[Path] = set()
        while not direct and frontier:
            path = frontier.pop()
            seen.add(path)
            known = self._reaches_cache.get((path, at_import))
            if known is not None:
                direct = known
                continue  # a file known not to reach ROS: neither does anything it leads to
            direct, more = self._file_edges(path, at_import)
            frontier |= more - seen
        if not direct:  # everything seen was explored to the end without finding ROS
            self._reaches_cache.update({(path, at_import): False for path in seen})
        return direct

    def file_reaches_ros(self, path: Path, at_import: bool) -> bool:
        key = (path, at_import)
        if key not in self._reaches_cache:
            self._reaches_cache[key] = self._reaches(self._references_of(path, at_import), path, at_import)
        return self._reaches_cache[key]

    def test_module(self, path: Path) -> TestModuleReach:
        if path in self._test_modules:
            return self._test_modules[path]
        tree = ast.parse(path.read_text(), filename=str(path))
        package = self._package_of(path)
        tests = list(_test_functions(tree))
        test_ids = {id(function) for function in tests}
        # Shared: module level, fixtures and helpers; a test class's body without its test methods. A test's
        # decorators and defaults run at import, for every test.
        shared_nodes: list[ast.AST] = []
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                shared_nodes += [*node.decorator_list, *node.bases,
                                 *(child for child in node.body if id(child) not in test_ids)]
            elif id(node) not in test_ids:
                shared_nodes.append(node)
        for function in tests:
            shared_nodes += [*function.decorator_list, *function.args.defaults,
                             *(default for default in function.args.kw_defaults if default is not None)]
        needing = {function.name for function in tests
                   if self._reaches(_references(function.body, package), path, at_import=False)}
        reach = TestModuleReach(at_import=self.file_reaches_ros(path, at_import=True),
                                whole_module=self._reaches(_references(shared_nodes, package), path, at_import=False),
                                tests=needing)
        self._test_modules[path] = reach
        return reach
