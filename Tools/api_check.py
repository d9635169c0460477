#!/usr/bin/env python3
"""BertKit's public API, as DocC sees it, against the committed list (semantic versioning, issue 21).

The symbol graph that `swift package generate-documentation --target BertKit` extracts lists every public symbol of
the BertKit module with its declaration. This script writes them one per line, sorted ("kind path: declaration"), and
compares with Fixtures/api/BertKit.api.txt:
  - a line missing or changed is a breaking change (a major version),
  - a new line is an addition (a minor version),
and either fails until the list is updated on purpose (`--update`), so no change of the public API goes unnoticed.
It also fails when a public symbol written in BertKit has no doc comment (symbols the compiler synthesises, such as
Hashable's `hash(into:)`, have no place in the sources and are skipped).

  Tools/api_check.py SYMBOLS_JSON [--update]
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "Fixtures" / "api" / "BertKit.api.txt"


def api_lines(graph):
    lines, undocumented = [], []
    for symbol in graph["symbols"]:
        if "location" not in symbol:   # synthesised or inherited from a protocol: not written in BertKit
            continue
        path = ".".join(symbol["pathComponents"])
        declaration = "".join(f["spelling"] for f in symbol["declarationFragments"])
        lines.append(f"{symbol['kind']['identifier']} {path}: {' '.join(declaration.split())}")
        if not symbol.get("docComment", {}).get("lines"):
            where = symbol["location"]
            undocumented.append(f"{Path(where['uri']).name}:{where['position']['line'] + 1}: {path}")
    # Conformances are API too (dropping `Sendable` or `Hashable` breaks users): one line per protocol.
    paths = {symbol["identifier"]["precise"]: ".".join(symbol["pathComponents"]) for symbol in graph["symbols"]}
    for relation in graph.get("relationships", []):
        if relation["kind"] == "conformsTo" and relation["source"] in paths:
            protocol = paths.get(relation["target"]) or relation.get("targetFallback", relation["target"])
            lines.append(f"conformance {paths[relation['source']]}: {protocol}")
    return sorted(set(lines)), sorted(undocumented)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: Tools/api_check.py SYMBOLS_JSON [--update]")
    graph = json.loads(Path(args[0]).read_text())
    if graph["module"]["name"] != "BertKit":
        sys.exit(f"error: {args[0]} is the symbol graph of {graph['module']['name']}, not BertKit")
    lines, undocumented = api_lines(graph)
    failed = False
    if undocumented:
        print("error: public symbols without a doc comment:\n  " + "\n  ".join(undocumented), file=sys.stderr)
        failed = True
    if "--update" in sys.argv:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text("".join(line + "\n" for line in lines))
        print(f"wrote {SNAPSHOT.relative_to(ROOT)} ({len(lines)} public symbols)")
        sys.exit(1 if failed else 0)
    known = SNAPSHOT.read_text().splitlines() if SNAPSHOT.exists() else []
    removed = sorted(set(known) - set(lines))
    added = sorted(set(lines) - set(known))
    if removed:
        print("error: public API removed or changed (a breaking change: bump the major version, then "
              "Tools/api_check.py --update):\n  - " + "\n  - ".join(removed), file=sys.stderr)
        failed = True
    if added:
        print("error: public API added (a minor version; Tools/api_check.py --update records it):\n  + "
              + "\n  + ".join(added), file=sys.stderr)
        failed = True
    if failed:
        sys.exit(1)
    kinds = {}
    for line in lines:
        kinds[line.split(" ")[0]] = kinds.get(line.split(" ")[0], 0) + 1
    print(f"public API unchanged: {len(lines)} symbols, every one documented ("
          + ", ".join(f"{n} {k.removeprefix('swift.')}" for k, n in sorted(kinds.items())) + ")")


if __name__ == "__main__":
    main()
