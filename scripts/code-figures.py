#!/usr/bin/env python3
"""Figures about the code that the issues ask for, computed from the source text.

    python3 scripts/code-figures.py assertions [ROOT ...]   # assertions per 1,000 lines, per module
    python3 scripts/code-figures.py long-fns [--over N] FILE_OR_DIR ...   # functions over N lines
    python3 scripts/code-figures.py cycles [--depth N] [ROOT]   # import cycles between modules

`assertions` counts the assertion macros (assert!, assert_eq!, assert_ne!, their debug_ forms
and the crate's invariant! macros) in code that is not a test: files named tests.rs,
*_tests.rs or testing.rs or under a tests/ folder, and everything from a `#[cfg(test)]` at the start of a line to the
end of its file, are left out, from both the count and the lines. A module is a folder (or a
single file) directly under the root.
"""
import os
import re
import sys

ASSERT = re.compile(r"\b(?:debug_)?assert(?:_eq|_ne)?!|\binvariant(?:_eq|_ne)?!")
TEST_FILES = re.compile(r"(^|/)((tests|testing|[a-z_]+_tests)\.rs$|tests/)")


def production_lines(path):
    lines = []
    with open(path, encoding="utf-8") as f:
        source = f.readlines()
    for i, line in enumerate(source):
        if line.startswith("#[cfg(test)]"):
            following = source[i + 1] if i + 1 < len(source) else ""
            if re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;", following):
                continue  # `#[cfg(test)] mod tests;`: the tests live in their own file
            break
        lines.append(line)
    return lines


def rust_files(root):
    if os.path.isfile(root):
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def assertions(roots):
    print(f"{'module':<28} {'asserts':>8} {'lines':>7} {'per 1k':>7}")
    for root in roots or ["src"]:
        modules = {}
        for path in rust_files(root):
            if TEST_FILES.search(path):
                continue
            rel = os.path.relpath(path, root)
            module = rel.split(os.sep)[0]
            module = module[:-3] if module.endswith(".rs") else module
            lines = production_lines(path)
            count = sum(len(ASSERT.findall(line)) for line in lines if not line.lstrip().startswith("//"))
            a, n = modules.get(module, (0, 0))
            modules[module] = (a + count, n + len(lines))
        total_a = total_n = 0
        for module in sorted(modules):
            a, n = modules[module]
            total_a += a
            total_n += n
            print(f"{root + '/' + module:<28} {a:>8} {n:>7} {1000 * a / max(n, 1):>7.1f}")
        print(f"{root + ' (all)':<28} {total_a:>8} {total_n:>7} {1000 * total_a / max(total_n, 1):>7.1f}")


FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def long_fns(paths, over):
    found = 0
    for root in paths:
        for path in rust_files(root):
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
            i = 0
            while i < len(lines):
                m = FN.match(lines[i])
                if not m:
                    i += 1
                    continue
                depth = 0
                opened = False
                j = i
                while j < len(lines):
                    code = re.sub(r"//.*", "", lines[j])
                    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code)
                    code = re.sub(r"'(?:\\.|[^'\\])'", "''", code)
                    depth += code.count("{") - code.count("}")
                    if "{" in code:
                        opened = True
                    if opened and depth <= 0:
                        break
                    if not opened and code.rstrip().endswith(";"):
                        break
                    j += 1
                length = j - i + 1
                if opened and length > over:
                    found += 1
                    print(f"{path}:{i + 1} {m.group(1)} {length} lines")
                i += 1
    print(f"{found} functions over {over} lines")


CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)")
SUPER_PATH = re.compile(r"\bsuper::")


def module_of(rel, depth):
    """`server/handlers/fetch.rs` at depth 1 is `server`, at depth 2 `server::handlers`."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts[:depth]) or "crate"


def cycles(root, depth):
    """Edges between modules from every `crate::a::b` path in non-test code (a `use` or a
    path in the text), then the strongly connected components with more than one module."""
    edges = {}
    for path in rust_files(root):
        if TEST_FILES.search(path):
            continue
        rel = os.path.relpath(path, root)
        source = module_of(rel, depth)
        if rel.split(os.sep)[0] == "bin":
            continue  # binaries are crates of their own
        # Paths named in comments and docs are not imports.
        text = "".join(re.sub(r"//.*", "", line) for line in production_lines(path))
        for m in CRATE_PATH.finditer(text):
            target = "::".join(m.group(1).split("::")[:depth])
            if not os.path.exists(os.path.join(root, *target.split("::"))) and not os.path.exists(
                os.path.join(root, *target.split("::")) + ".rs"
            ):
                target = "::".join(m.group(1).split("::")[: depth - 1]) if depth > 1 else target
            if target and target != source and not source.startswith(target + "::") and not target.startswith(source + "::"):
                edges.setdefault(source, set()).add(target)
    # A module depends on the children it declares (`mod x;`): a path into a child's sibling
    # tree that leads back to the parent is a cycle too.
    for v in list(edges) + [w for ws in list(edges.values()) for w in ws]:
        parts = v.split("::")
        for i in range(1, len(parts)):
            edges.setdefault("::".join(parts[:i]), set()).add("::".join(parts[: i + 1]))
    # Tarjan's strongly connected components.
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
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
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    nodes = sorted(set(edges) | {w for ws in edges.values() for w in ws})
    for v in nodes:
        if v not in index:
            visit(v)
    print(f"{len(nodes)} modules at depth {depth}, {sum(len(w) for w in edges.values())} edges")
    for component in components:
        print("cycle: " + " <-> ".join(component))
        for v in component:
            for w in sorted(edges.get(v, ())):
                if w in component:
                    print(f"  {v} -> {w}")
    print(f"{len(components)} import cycles")
    return len(components)


def main(argv):
    if argv and argv[0] == "cycles":
        rest = argv[1:]
        depth = 1
        if rest[:1] == ["--depth"]:
            depth = int(rest[1])
            rest = rest[2:]
        return 1 if cycles(rest[0] if rest else "src", depth) else 0
    if not argv or argv[0] not in ("assertions", "long-fns"):
        print(__doc__)
        return 2
    if argv[0] == "assertions":
        assertions(argv[1:])
    else:
        rest = argv[1:]
        over = 100
        if rest[:1] == ["--over"]:
            over = int(rest[1])
            rest = rest[2:]
        long_fns(rest or ["src", "sim/src"], over)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
