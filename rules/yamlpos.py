"""Line-marked YAML loading: plain data plus the file position of every key and value.

PyYAML's composer keeps marks on nodes; we walk the node tree ourselves so that duplicate
keys become errors (PyYAML silently keeps the last one) and every later check can point
at ``file:line:col``. Timestamps stay strings: calendars are JSON-able dates as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from rules.errors import PolicyIssue

Path = tuple[str | int, ...]


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


def load_document(file: str, text: str) -> tuple[Document | None, list[PolicyIssue]]:
    """Parse one YAML text; return the document or the syntax / duplicate-key issues."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [PolicyIssue(file, line, col, "", f"YAML syntax error: {problem}")]
    finally:
        loader.dispose()
    doc = Document(file, None)
    issues: list[PolicyIssue] = []
    if node is None:
        doc.data = {}
        return doc, issues
    constructor = _Loader("")
    doc.data = _walk(node, (), doc, issues, constructor)
    return (None if issues else doc), issues


def _walk(
    node: yaml.Node, path: Path, doc: Document, issues: list[PolicyIssue], ctor: _Loader
) -> Any:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                first = doc.keys[(*path, key)]
                issues.append(
                    PolicyIssue(
                        doc.file,
                        line,
                        col,
                        dotted((*path, key)),
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                    )
                )
                continue
            doc.keys[(*path, key)] = (line, col)
            out[key] = _walk(value_node, (*path, key), doc, issues, ctor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), doc, issues, ctor) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)
