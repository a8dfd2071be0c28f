"""The import rules of ARCHITECTURE.md: no import cycle, and the import-linter contracts of
pyproject.toml hold on the code (``lint-imports`` in ``make lint``) and bite on planted imports."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.application.use_cases import read_user_options
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("conformance", "mockserver")


@cache
def graph() -> Any:
    return grimp.build_graph(*PACKAGES)


def cycles(imports: Any) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(imports.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(imports.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def broken(imports: Any) -> set[str]:
    """The names of the pyproject contracts that ``imports`` breaks."""
    configuration.configure()
    options = read_user_options(str(ROOT / "pyproject.toml"))
    names = set()
    for contract_options in options.contracts_options:
        kind = {"layers": LayersContract, "forbidden": ForbiddenContract}[contract_options["type"]]
        contract = kind(
            name=contract_options["name"],
            session_options=options.session_options,
            contract_options=contract_options,
        )
        # A contract removes its ignored imports from the graph it is given: one copy each.
        if not contract.check(copy.deepcopy(imports), verbose=False).kept:
            names.add(contract_options["name"])
    return names


def test_no_import_cycle_even_under_type_checking() -> None:
    assert cycles(graph()) == []
    planted = copy.deepcopy(graph())
    planted.add_import(
        importer="conformance.rules.indicators", imported="conformance.rules.documents"
    )
    assert cycles(planted) == [["conformance.rules.documents", "conformance.rules.indicators"]]


def test_the_contracts_hold() -> None:
    assert broken(graph()) == set()


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("conformance.registry", "conformance.checks.filters", "each layer imports only"),
        ("conformance.checks.document", "mockserver.model", "conformance never imports mockserver"),
        ("conformance.clientmode.run", "mockserver.app", "only through mockserver.testing"),
        ("conformance.diff.run", "conformance.clientmode.run", "diff mode never imports"),
        ("mockserver.recording", "conformance.server.transport", "mockserver never imports"),
        ("mockserver.store", "mockserver.config", "pure core does not import its edges"),
    ],
)
def test_a_planted_import_breaks_its_contract(importer: str, imported: str, contract: str) -> None:
    planted = copy.deepcopy(graph())
    planted.add_import(importer=importer, imported=imported)
    assert [name for name in broken(planted) if contract in name], broken(planted)
