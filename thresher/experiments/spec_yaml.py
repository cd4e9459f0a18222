"""A sweep spec's YAML read defensively: one parse whose node tree is checked before any Python value is
built from it (docs/architecture.md, "Sweeps").

- **Aliases are allowed but capped.** A shared block (``train: &t {…}`` reused, a seed list named once) is
  ordinary YAML and costs nothing; an alias bomb (each level repeating the one below, "billion laughs")
  is a few hundred bytes that expand to gigabytes once anything walks or prints the values. The tree's size
  *after* expanding every alias is counted without expanding it (each distinct node once, memoised), and
  a spec over :data:`MAX_NODES` is refused; so is an alias that contains itself.
- **Duplicate keys are an error** (YAML says keys are unique; PyYAML keeps the last one silently), named
  with both lines.
- **Numbers are finite**: ``.nan`` and ``.inf`` mean nothing in a spec and used to surface as tracebacks
  half-way through a sweep.

Every problem is a :class:`SpecError` naming the file and line.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from thresher.errors import ThresherError

MAX_SPEC_BYTES = 1 << 20
"""A spec is a few kilobytes (the presets are under 3 KiB); a larger file is refused before it is parsed."""
MAX_NODES = 250_000
"""YAML nodes a spec may expand to, aliases expanded. The presets have under 200; the cap sits well above
any list a sweep could run (100 000 seeds are 100 000 nodes, and are refused by the cell limit,
``--max-cells``, with its numbers), and far below what makes walking or printing the values costly."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class SpecError(ThresherError):
    """A spec that cannot run: one line naming the file and line."""


def read_spec_yaml(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """The spec's value and its node tree (for line numbers), after the checks above."""
    size = len(text.encode())
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"{where}:1: the spec is {size} bytes; a spec is at most {MAX_SPEC_BYTES} bytes")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_tree(node, where, loader)
        return loader.construct_document(node), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SpecError(f"{where}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_tree(root: yaml.Node, where: str, loader: yaml.SafeLoader) -> None:
    """Depth-first over the distinct nodes (an alias is the same node object as its anchor): each node's
    expanded size once, so a bomb costs what its text does."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the current node's ancestors: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise SpecError(
                    f"{where}:{node.start_mark.line + 1}: this expands to more than {MAX_NODES} YAML nodes "
                    "(aliases repeating aliases, or lists far longer than a sweep runs): refused"
                )
            continue
        if key in sizes:
            continue
        _check_node(node, where, loader)
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise SpecError(f"{where}:{child.start_mark.line + 1}: an alias that contains itself")
            if id(child) not in sizes:
                stack.append((child, False))


def _check_node(node: yaml.Node, where: str, loader: yaml.SafeLoader) -> None:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                raise SpecError(
                    f"{where}:{line}: duplicate key {key.value!r} (first on line {first[key.value]})"
                )
            first[key.value] = line
    elif isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT_TAG:
        value = loader.construct_yaml_float(node)
        if not math.isfinite(value):
            raise SpecError(f"{where}:{node.start_mark.line + 1}: {node.value} is not a finite number")
