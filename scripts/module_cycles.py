#!/usr/bin/env python3
"""Import cycles between the modules (files) of a crate.

Usage: scripts/module_cycles.py [crates/server/src …]   (default: every crate's src/)

Each file is a module (lib.rs/main.rs the crate root, a/mod.rs `a`, a/b.rs `a::b`). An edge
A → B is a `use` of B's items, or a path through B (`crate::x::…`, `super::…`, `child::…`), in A
outside its `#[cfg(test)]` module. A path to an item that a module re-exports with `pub use` is
followed to the module that defines it, so facades (lib.rs, mod.rs that only declare and
re-export) do not make cycles. Prints every strongly connected set of more than one module and
exits 1 if there is any: "no module imports a module that imports it back".
"""
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def strip(text):
    text = re.sub(r"#\[cfg\(test\)\]\s*(#\[[^\]]*\]\s*)*mod tests\s*\{.*", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand(tree):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (segments as lists)."""
    tree = tree.strip()
    depth, split = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0 and split is None:
                split = i
            depth += 1
        elif ch == "}":
            depth -= 1
    if split is None:
        name = tree.split(" as ")[0].strip()
        return [[s for s in name.split("::") if s]]
    prefix = [s for s in tree[:split].split("::") if s]
    inner = tree[split + 1 : tree.rindex("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    out = []
    for part in parts:
        if part.strip():
            for sub in expand(part):
                out.append(prefix + ([] if sub == ["self"] else sub))
    return out


def absolute(module, segments):
    if not segments:
        return None
    head, rest = segments[0], segments[1:]
    if head == "crate":
        return list(rest)
    if head == "self":
        return list(module) + list(rest)
    if head == "super":
        base = list(module)
        while segments and segments[0] == "super":
            base = base[:-1]
            segments = segments[1:]
        return base + list(segments)
    return None


def main(roots):
    found = False
    for root in roots:
        files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".rs")]
        modules = {module_of(root, f): f for f in files}
        texts = {m: strip(open(f, encoding="utf-8").read()) for m, f in modules.items()}
        reexports = {}
        for m, text in texts.items():
            for tree in re.findall(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
                for path in expand(tree):
                    full = absolute(m, path) or list(m) + path
                    reexports[(m, full[-1])] = full

        def resolve(path, seen=0):
            """The module defining what `path` (absolute segments) names."""
            for cut in range(len(path), -1, -1):
                module = tuple(path[:cut])
                if module in modules:
                    if cut < len(path) and (module, path[cut]) in reexports and seen < 10:
                        return resolve(reexports[(module, path[cut])] + path[cut + 1 :], seen + 1)
                    return module
            return None

        edges = {m: set() for m in modules}
        for m, text in texts.items():
            children = set(re.findall(r"\bmod\s+(\w+)\s*;", text))
            paths = []
            for tree in re.findall(r"\buse\s+([^;]+);", text):
                for path in expand(tree):
                    full = absolute(m, path)
                    if full is None and path and path[0] in children:
                        full = list(m) + path
                    if full is not None:
                        paths.append(full)
            for match in re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text):
                full = absolute(m, match.split("::"))
                if full is not None:
                    paths.append(full)
            for child in children:
                if re.search(r"(?<![:\w])" + child + r"::\w", text):
                    paths.append(list(m) + [child, "_"])
            for full in paths:
                target = resolve(full)
                if target is not None and target != m:
                    edges[m].add(target)
        # Tarjan's strongly connected components.
        index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in edges[v]:
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                scc = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    sccs.append(scc)

        sys.setrecursionlimit(10000)
        for v in sorted(modules):
            if v not in index:
                visit(v)
        name = lambda m: "::".join(("crate",) + m)
        for scc in sccs:
            found = True
            print(f"{root}: cycle among {len(scc)} modules:")
            for v in sorted(scc):
                inside = sorted(name(w) for w in edges[v] if w in scc)
                print(f"  {name(v)} -> {', '.join(inside)}")
        if not sccs:
            print(f"{root}: {len(modules)} modules, {sum(len(e) for e in edges.values())} imports, no cycle")
    return 1 if found else 0


if __name__ == "__main__":
    args = sys.argv[1:] or sorted(
        os.path.join("crates", c, "src") for c in os.listdir("crates") if os.path.isdir(os.path.join("crates", c, "src"))
    )
    sys.exit(main(args))
