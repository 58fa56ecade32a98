"""Line-marked YAML loading: plain data plus the file position of every key and value.

PyYAML's composer keeps marks on nodes; we walk the node tree ourselves so that duplicate
keys become errors (PyYAML silently keeps the last one) and every later check can point
at ``file:line:col``. Timestamps stay strings: calendars are JSON-able dates as written.

Policy files come from people and from HTTP uploads, so the walk is bounded: a file size cap
(checked before parsing), a node budget that counts alias expansions (a 300-byte "billion
laughs" file would otherwise build gigabytes), a nesting depth, a refusal of self-referencing
aliases, of non-scalar keys, of NaN/Infinity and of integers too long to convert. Every refusal
is a positioned issue, never a Python exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.reader import ReaderError

from rules.errors import PolicyIssue

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 1_000_000  # the shipped files are a few kB each
MAX_NODES = 50_000  # values after alias expansion; the shipped bundle has about 3,000
MAX_DEPTH = 40  # the deepest shipped path is about 10 levels


class _Loader(yaml.SafeLoader):
    """Safe loader without the implicit timestamp type (dates stay ISO strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def dotted(path: Path) -> str:
    """Render a path the way messages show it: ``a.b[0].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """One parsed file: its data and the (line, col) of each value and each mapping key."""

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def issue(self, path: Path, message: str, *, at_key: bool = False) -> PolicyIssue:
        """Locate ``message`` at ``path`` (its key when asked, else its value)."""
        pos = None
        if at_key:
            pos = self.keys.get(path)
        if pos is None:
            probe = path
            while probe and probe not in self.values:
                probe = probe[:-1]
            pos = self.values.get(probe, (1, 1))
        return PolicyIssue(self.file, pos[0], pos[1], dotted(path), message)


def decode(file: str, data: bytes) -> tuple[str | None, list[PolicyIssue]]:
    """UTF-8 text of a file's bytes, or an issue at the first invalid byte / the size cap."""
    if len(data) > MAX_FILE_BYTES:
        return None, [PolicyIssue(file, 1, 1, "", f"file larger than {MAX_FILE_BYTES} bytes")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, [PolicyIssue(file, line, col, "", f"not UTF-8: byte {data[exc.start]:#04x}")]


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def load_document(file: str, text: str) -> tuple[Document | None, list[PolicyIssue]]:
    """Parse one YAML text; return the document or the syntax / duplicate-key / limit issues."""
    if len(text) > MAX_FILE_BYTES:
        return None, [PolicyIssue(file, 1, 1, "", f"file larger than {MAX_FILE_BYTES} bytes")]
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader checks the characters here
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [PolicyIssue(file, line, col, "", f"YAML syntax error: {problem}")]
    except ReaderError as exc:
        # NUL, lone surrogates and other characters YAML does not allow
        line, col = _position(text, exc.position)
        return None, [PolicyIssue(file, line, col, "", f"character not allowed in YAML: {exc}")]
    except (yaml.YAMLError, RecursionError):
        # the composer recurses once per nesting level: a file nested far deeper than any
        # policy is refused as a whole
        return None, [PolicyIssue(file, 1, 1, "", "YAML nested too deeply or malformed")]
    finally:
        if loader is not None:
            loader.dispose()
    doc = Document(file, None)
    issues: list[PolicyIssue] = []
    if node is None:
        doc.data = {}
        return doc, issues
    walk = _Walk(doc, issues)
    try:
        doc.data = walk.value(node, ())
    except _TooLarge as exc:
        issues.append(exc.issue)
    return (None if issues else doc), issues


class _TooLarge(Exception):
    def __init__(self, issue: PolicyIssue) -> None:
        self.issue = issue


class _Walk:
    """Node tree -> plain data with positions, within the node, depth and alias limits."""

    def __init__(self, doc: Document, issues: list[PolicyIssue]) -> None:
        self.doc, self.issues = doc, issues
        self.ctor = _Loader("")
        self.nodes = 0
        self.open: set[int] = set()  # collection nodes being walked: an alias to one is a loop

    def _refuse(self, node: yaml.Node, path: Path, message: str) -> _TooLarge:
        mark = node.start_mark
        return _TooLarge(PolicyIssue(self.doc.file, mark.line + 1, mark.column + 1,
                                     dotted(path), message))  # fmt: skip

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._refuse(node, path, f"more than {MAX_NODES} values (aliases count "
                                           "each time they are used)")  # fmt: skip
        if len(path) > MAX_DEPTH:
            raise self._refuse(node, path, f"nested deeper than {MAX_DEPTH} levels")
        self.doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            raise self._refuse(node, path, "an alias refers to the value that contains it")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        try:
            value = self.ctor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            # e.g. an integer of thousands of digits (Python refuses to convert it)
            self.issues.append(self.doc.issue(path, f"invalid scalar: {str(exc)[:80]}"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.issues.append(self.doc.issue(path, "NaN and infinite numbers are not allowed"))
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.append(PolicyIssue(self.doc.file, line, col, dotted(path),
                                               "a key must be a plain value"))  # fmt: skip
                continue
            raw = self._scalar(key_node, path)
            key = raw if isinstance(raw, str) else str(raw)
            if key in out:
                first = self.doc.keys[(*path, key)]
                self.issues.append(
                    PolicyIssue(
                        self.doc.file,
                        line,
                        col,
                        dotted((*path, key)),
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                    )
                )
                continue
            self.doc.keys[(*path, key)] = (line, col)
            out[key] = self.value(value_node, (*path, key))
        return out
