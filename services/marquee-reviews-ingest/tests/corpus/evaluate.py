"""Evaluates feedparser's `Expect:` lines against Marquee's reading.

Arguments: the corpus folder (feedparser's tests/), the JSON readings the
Rust test wrote, the checked-in differences file. Prints the counts and
every unlisted disagreement; exits 1 when one is unlisted or a listed one
no longer occurs. With CORPUS_OUTCOMES=path it also writes every case's
outcome there.

An expression is applicable when it names only `entries` (and `bozo`,
which Marquee has no counterpart for and which is taken as true) and only
keys Marquee reads; everything else is not applicable. Marquee's entries
are shaped like feedparser's for those keys only.
"""

import ast
import json
import os
import re
import sys
import time
import tomllib
from pathlib import Path

DESCRIPTION = re.compile(rb"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->")
SKIP_UNLESS = re.compile(rb"SkipUnless:\s*(.*?)\n")

# feedparser's names for what Marquee reads, and their aliases there.
ALIASES = {
    "guid": "id",
    "description": "summary",
    "issued_parsed": "published_parsed",
    "modified_parsed": "updated_parsed",
    "date_parsed": "updated_parsed",
    "url": "href",
}
KEYS = {
    "title", "link", "id", "published_parsed", "updated_parsed", "author",
    "summary", "content", "value", "tags", "term", "enclosures",
    "media_content", "media_thumbnail", "href",
} | set(ALIASES)


class Rejected(Exception):
    """The expression reached an item or document Marquee rejected."""


class Entry(dict):
    """A feedparser-shaped dict: aliases, attribute access."""

    def __getitem__(self, key):
        return dict.__getitem__(self, ALIASES.get(key, key))

    def __contains__(self, key):
        return dict.__contains__(self, ALIASES.get(key, key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as error:
            raise AttributeError(key) from error


class RejectedEntry:
    def __init__(self, reason):
        self.reason = reason

    def __getitem__(self, key):
        raise Rejected(self.reason)

    __getattr__ = __getitem__

    def get(self, key, default=None):
        raise Rejected(self.reason)

    def __contains__(self, key):
        raise Rejected(self.reason)


class RejectedList(list):
    def __init__(self, reason):
        super().__init__()
        self.reason = reason

    def __getitem__(self, index):
        raise Rejected(self.reason)

    def __len__(self):
        raise Rejected(self.reason)


# What an expression must not touch on an item rejected for lacking a
# field: the stand-in Marquee finished it with.
MISSING = {"link": {"link", "id", "guid"}, "title": {"title"}}


def entry(reading, keys):
    if reading.get("rejected") and (
        "id" not in reading or any(keys & MISSING[m] for m in reading["missing"])
    ):
        return RejectedEntry(reading["rejected"])
    fields = {
        "id": reading["id"],
        "link": reading["link"],
        "title": reading["title"],
        "summary": reading["summary"],
        "content": [Entry(value=reading["content"][0]["value"])],
        "tags": [Entry(term=t["term"]) for t in reading["tags"]],
    }
    if reading["author"] is not None:
        fields["author"] = reading["author"]
    for key in ("published_parsed", "updated_parsed"):
        if reading[key] is not None:
            fields[key] = time.gmtime(reading[key])
    if reading["image"]:
        fields["enclosures"] = [Entry(href=reading["image"])]
        fields["media_content"] = [Entry(href=reading["image"])]
        fields["media_thumbnail"] = [Entry(href=reading["image"])]
    return Entry(fields)


class Bozo(ast.NodeTransformer):
    """`bozo` and `not bozo` become True: Marquee reads or rejects."""

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Name) and node.operand.id == "bozo":
            return ast.copy_location(ast.Constant(True), node)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id == "bozo":
            return ast.copy_location(ast.Constant(True), node)
        return node


def keys_of(tree):
    """The names of the expression, and the keys it reads."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            keys.add(node.slice.value)
        elif isinstance(node, ast.Attribute):
            keys.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            keys.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    keys.discard("get")
    return names, keys


def applicable(names, keys):
    return "entries" in names and not names - {"entries", "bozo", "len"} and keys <= KEYS


def evaluate(expression, reading):
    tree = ast.parse(expression, mode="eval")
    names, keys = keys_of(tree)
    if not applicable(names, keys):
        return "not applicable", ""
    tree = ast.fix_missing_locations(Bozo().visit(tree))
    view = reading["view"]
    if "rejected" in view:
        entries = RejectedList(view["rejected"])
    else:
        entries = [entry(e, keys) for e in view["entries"]]
    try:
        result = eval(compile(tree, "<expect>", "eval"), {"__builtins__": {"len": len}}, {"entries": entries})
    except Rejected as rejection:
        return "rejected", str(rejection)
    except (KeyError, IndexError, AttributeError, TypeError) as error:
        return "disagreed", f"{type(error).__name__}: {error}"
    if not result:
        return "disagreed", ""
    # A rejected item whose other fields were read as feedparser reads them.
    touched = [e for e in view["entries"] if e.get("rejected")]
    if touched:
        return "rejected, other fields agree", touched[0]["rejected"]
    return "agreed", ""


def main():
    corpus, readings, differences = (Path(a) for a in sys.argv[1:4])
    listed = {}
    for difference in tomllib.loads(differences.read_text())["difference"]:
        for case in difference["cases"]:
            listed[case] = difference["reason"]
    counts = dict.fromkeys(
        ["cases read", "agreed", "rejected with reason", "rejected, other fields agree",
         "listed differences", "not applicable",
         "not RSS or Atom", "undecodable"], 0)
    unlisted, gone, rejections, outcomes = [], [], {}, {}
    seen = set()
    for reading in json.loads(readings.read_text()):
        case = reading["case"]
        outcome = reading["outcome"]
        if outcome == "skipped":
            counts["not RSS or Atom"] += 1
            continue
        if outcome in ("undecodable", "panic"):
            counts["undecodable"] += outcome == "undecodable"
            continue
        counts["cases read"] += 1
        data = (corpus / case).read_bytes()
        skip = SKIP_UNLESS.search(data)
        found = DESCRIPTION.search(data)
        if not found or skip:
            # SkipUnless names an optional Python module (chardet, …).
            counts["not applicable"] += 1
            continue
        expression = found.group(2).decode().strip()
        result, detail = evaluate(expression, reading)
        outcomes[case] = [result, detail]
        if result == "agreed":
            counts["agreed"] += 1
        elif result == "not applicable":
            counts["not applicable"] += 1
        elif result.startswith("rejected"):
            counts["rejected with reason"] += 1
            counts["rejected, other fields agree"] += result != "rejected"
            rejections[detail] = rejections.get(detail, 0) + 1
        elif case in listed:
            counts["listed differences"] += 1
            seen.add(case)
        else:
            unlisted.append((case, expression, detail, reading["view"]))
    gone = sorted(set(listed) - seen)
    if os.environ.get("CORPUS_OUTCOMES"):
        Path(os.environ["CORPUS_OUTCOMES"]).write_text(json.dumps(outcomes, indent=1, sort_keys=True))
    print(json.dumps(counts))
    print("rejection reasons:")
    for reason, n in sorted(rejections.items(), key=lambda r: -r[1]):
        print(f"  {n:4}  {reason}")
    for case, expression, detail, view in unlisted:
        print(f"UNLISTED {case}\n  expect: {expression}\n  {detail}\n  marquee: {json.dumps(view)[:600]}")
    for case in gone:
        print(f"LISTED BUT AGREES NOW (or no longer read): {case}")
    sys.exit(1 if unlisted or gone else 0)


main()
