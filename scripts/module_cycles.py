#!/usr/bin/env python3
"""Finds import circles among the modules of each crate (issue 20: no module imports one that
imports it back). A module's edges are the `crate::`, `super::` and `self::` paths its files name,
in `use` lines and in code (unit tests aside); an edge links the two sibling modules that hold its
ends, at every level, and a module's own parent or children make none. Modules are taken from the
file tree, which is also how the catalog's include!d queries are nested. Exits 1 and prints each
circle if there is one. Usage: scripts/module_cycles.py [CRATE_SRC_DIR ...]"""

import re
import sys
from pathlib import Path

USE_GROUP = re.compile(r"use\s+((?:crate|super|self)(?:::super)*)::\{(.*?)\};", re.S)
PATH = re.compile(r"\b((?:crate|super|self)(?:::[a-z_][a-z0-9_]*)+)")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests \{.*", re.S)


def module_of(src: Path, file: Path):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def paths_in(text: str):
    found = set(PATH.findall(text))
    for prefix, group in USE_GROUP.findall(text):
        # `use crate::{a::X, b, c::{d, e}}`: each top-level entry, with the prefix.
        depth, entry = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                if entry.strip():
                    found.add(prefix + "::" + entry.strip().split("::{")[0])
                entry = ""
            else:
                entry += ch
    return found


def resolve(module, path: str, modules: set):
    parts = [p.strip() for p in path.split("::")]
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    else:
        base, rest = module, parts
        while rest and rest[0] in ("super", "self"):
            if rest.pop(0) == "super":
                base = base[:-1]
    target = base
    for part in rest:
        if target + (part,) in modules:
            target += (part,)
        else:
            break
    return target


def cycles_of(src: Path):
    files = [f for f in src.rglob("*.rs") if not f.name.endswith("_tests.rs")]
    modules = {module_of(src, f) for f in files}
    edges = {}
    for f in files:
        here = module_of(src, f)
        for path in paths_in(TESTS.sub("", f.read_text())):
            there = resolve(here, path, modules)
            # An import between two modules is an edge between the children of their closest
            # common ancestor that hold them; a module and its own descendants make none.
            common = 0
            while common < min(len(here), len(there)) and here[common] == there[common]:
                common += 1
            if common == len(here) or common == len(there):
                continue
            edges.setdefault(here[: common + 1], set()).add(there[: common + 1])
    # Tarjan's strongly connected components: every component of more than one module is a circle.
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append("::".join(w))
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main(args):
    roots = [Path(a) for a in args] or sorted(Path("crates").glob("*/src")) + [Path("src")]
    failed = False
    for src in roots:
        for circle in cycles_of(src):
            failed = True
            print(f"{src}: import circle among {', '.join(circle)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
