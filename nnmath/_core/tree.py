"""Pytrees: nested tuples, lists, dicts (and namedtuples, None) whose leaves are arrays.

Follows JAX's conventions: dict children are ordered by sorted key, ``None`` is an empty node
(it has no leaves), and every other object is a leaf.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

__all__ = ["tree_flatten", "tree_unflatten", "tree_map", "tree_leaves", "tree_structure", "TreeDef"]


class TreeDef(NamedTuple):
    """The structure of a pytree: a node kind, its metadata and the structures of its children."""

    kind: str                 # "leaf", "none", "tuple", "list", "dict" or "namedtuple"
    meta: Any                 # dict keys, the namedtuple class, or None
    children: tuple           # child TreeDefs
    num_leaves: int

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "tuple":
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children)) + "}"
        return f"{self.meta.__name__}({inner})"


LEAF = TreeDef("leaf", None, (), 1)
_NONE = TreeDef("none", None, (), 0)


def _flatten_into(tree: Any, leaves: list) -> TreeDef:
    kind = type(tree)
    if kind is tuple or kind is list:
        children = tuple(_flatten_into(c, leaves) for c in tree)
        return TreeDef(kind.__name__, None, children, sum(c.num_leaves for c in children))
    if kind is dict:
        keys = tuple(sorted(tree))
        children = tuple(_flatten_into(tree[k], leaves) for k in keys)
        return TreeDef("dict", keys, children, sum(c.num_leaves for c in children))
    if tree is None:
        return _NONE
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        children = tuple(_flatten_into(c, leaves) for c in tree)
        return TreeDef("namedtuple", kind, children, sum(c.num_leaves for c in children))
    leaves.append(tree)
    return LEAF


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """Return the leaves of ``tree`` (depth first, dict keys sorted) and its structure."""
    leaves: list = []
    return leaves, _flatten_into(tree, leaves)


def tree_leaves(tree: Any) -> list:
    """Return the leaves of ``tree``."""
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> TreeDef:
    """Return the structure of ``tree``."""
    return tree_flatten(tree)[1]


def _build(treedef: TreeDef, it) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    children = [_build(c, it) for c in treedef.children]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(treedef.meta, children))
    return treedef.meta(*children)


def tree_unflatten(treedef: TreeDef, leaves) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: structure {treedef!r} needs {treedef.num_leaves} leaves, "
                         f"got {len(leaves)}")
    return _build(treedef, iter(leaves))


def tree_map(f: Callable, tree: Any, *rest: Any) -> Any:
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of ``rest``)."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef!r} and {r_def!r}")
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])
