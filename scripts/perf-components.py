#!/usr/bin/env python3
"""Where a process's CPU time went, from `perf report`, by component.

    perf report -i perf.data --stdio --no-children --sort dso,sym -g none \
      | scripts/perf-components.py

Prints a Markdown table of each component's share of the samples (the
kernel, the C library, the Rust crates in the marquee binary by the path
each symbol starts with), then the hottest functions, marking Marquee's own.
"""
import re
import sys
from collections import defaultdict

# A report line: "  12.34%  marquee  [.] hyper::proto::h1::..."
LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)$")


def rust(*prefixes):
    """A Rust crate in the marquee binary, by the path its symbol starts with."""
    return lambda dso, path: dso == "marquee" and path.startswith(prefixes)


COMPONENTS = [
    ("kernel (TCP, syscalls, scheduling)", lambda dso, path: dso.startswith("[kernel")),
    ("C library (malloc, free, memcpy)", lambda dso, path: dso.startswith("libc")),
    ("Marquee", rust("marquee")),
    ("hyper, hyper-util (HTTP/1)", rust("hyper", "h2")),
    ("tokio (runtime, sockets)", rust("tokio", "mio")),
    ("axum, tower, tower-http", rust("axum", "tower", "matchit")),
    ("tracing, metrics", rust("tracing", "metrics")),
    ("Rust std, alloc, core", rust("std", "alloc", "core")),
    ("other Rust crates (http, bytes, futures...)", rust("")),
    ("other code (vdso, libm; nginx's own binary)", lambda dso, path: True),
]


def crate_path(symbol):
    """The path a symbol names first: `<T as Trait>::f` is T's, `a::b` is a's."""
    symbol = symbol.lstrip("<&*( ")
    for prefix in ("dyn ", "mut ", "const "):
        if symbol.startswith(prefix):
            symbol = symbol[len(prefix):]
    return symbol


def short(symbol, width):
    return symbol if len(symbol) <= width else symbol[: width - 3] + "..."


def main():
    shares = defaultdict(float)
    members = defaultdict(list)
    functions = []
    for line in sys.stdin:
        match = LINE.match(line)
        if not match:
            continue
        percent, dso, symbol = float(match[1]), match[2], match[4].strip()
        path = crate_path(symbol)
        for name, belongs in COMPONENTS:
            if belongs(dso, path):
                shares[name] += percent
                members[name].append((percent, symbol))
                break
        functions.append((percent, dso, symbol, rust("marquee")(dso, path)))
    if not functions:
        sys.exit("perf-components.py: no samples in the report")
    print("| component | share of samples | its hottest functions |")
    print("|---|---:|---|")
    for name, _ in COMPONENTS:
        if shares[name] >= 0.05:
            top = ", ".join(f"`{short(symbol, 50)}`" for _, symbol in sorted(members[name], reverse=True)[:3])
            print(f"| {name} | {shares[name]:.1f}% | {top} |")
    print()
    print("| hottest functions | share |")
    print("|---|---:|")
    for percent, dso, symbol, ours in sorted(functions, reverse=True)[:12]:
        mark = ", Marquee's own" if ours else ""
        print(f"| `{short(symbol, 90)}` ({dso}){mark} | {percent:.1f}% |")
    marquee = [f for f in functions if f[3]]
    if marquee:
        top = max(marquee)
        print(f"\nThe hottest Marquee function: `{short(top[2], 90)}` at {top[0]:.2f}%.")
    else:
        print("\nNo Marquee function was sampled.")


if __name__ == "__main__":
    main()
