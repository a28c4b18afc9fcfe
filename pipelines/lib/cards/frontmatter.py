"""YAML front matter of a model card, read safely.

Limits, checked before any object is built: the block's size, its nesting depth and the number of nodes
after alias expansion (an alias bomb is a few lines that expand to billions of nodes). PyYAML's event
parser is iterative, so a block nested thousands deep is rejected without deep recursion. Only the safe
loader is used (no Python tags), and timestamps stay strings so a malformed date cannot reject the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

MAX_FRONT_MATTER_BYTES = 256 * 1024
MAX_YAML_DEPTH = 50
MAX_YAML_NODES = 100_000  # nodes after alias expansion; real cards have a few thousand at most

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_OPENING = re.compile(r"^---[ \t]*\r?\n")


class _CardLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader without the timestamp resolver: dates stay the strings they were printed as."""


_CardLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _YAML_LOADER.yaml_implicit_resolvers.items()
}


@dataclass
class Problem:
    locator: str
    item: str
    reason: str


@dataclass
class FrontMatter:
    data: dict | None = None  # the metadata mapping, when there is a valid one
    root: yaml.Node | None = None  # the composed node tree: raw scalar text and line numbers
    body: str = ""  # the Markdown after the front matter
    body_first_line: int = 1
    rescan: str | None = None  # front matter text that is not metadata and should be read as Markdown
    problems: list[Problem] = field(default_factory=list)


class YamlLimitError(ValueError):
    """Front matter over a size, depth or alias-expansion limit."""


def split(text: str) -> FrontMatter:
    """Split a card into its front matter (parsed) and Markdown body."""
    opening = _OPENING.match(text)
    if not opening:
        return FrontMatter(body=text)
    closing = _FENCE.search(text, opening.end())
    if closing is None:
        return FrontMatter(
            body=text[opening.end() :],
            body_first_line=2,
            problems=[
                Problem(
                    "front matter",
                    "opening '---' on line 1",
                    "front matter is never closed (no second '---' line); read as Markdown",
                )
            ],
        )
    yaml_text = text[opening.end() : closing.start()]
    body_start = closing.end() + 1
    result = FrontMatter(body=text[body_start:], body_first_line=text.count("\n", 0, body_start) + 1)
    size = len(yaml_text.encode("utf-8", errors="replace"))
    if size > MAX_FRONT_MATTER_BYTES:
        result.problems.append(
            Problem(
                "front matter",
                f"{size} bytes",
                f"front matter larger than {MAX_FRONT_MATTER_BYTES} bytes; not parsed",
            )
        )
        return result
    try:
        root, data = load(yaml_text)
    except YamlLimitError as err:
        result.problems.append(Problem("front matter", "YAML", str(err)))
        return result
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as err:
        result.problems.append(
            Problem("front matter", "YAML", f"front matter is not valid YAML: {_short(err)}")
        )
        result.rescan = yaml_text
        return result
    if data is None:
        return result
    if not isinstance(data, dict):
        result.problems.append(
            Problem(
                "front matter",
                type(data).__name__,
                f"front matter is a {_yaml_kind(data)}, not a mapping of metadata",
            )
        )
        result.rescan = yaml_text
        return result
    result.data, result.root = data, root
    return result


def check_limits(yaml_text: str) -> None:
    """Walk the event stream once; raise YamlLimitError past the depth or expanded-size limits."""
    stack: list[list] = []  # per open collection: [expanded size so far, anchor]
    anchors: dict[str, int] = {}
    expanded = 0
    for event in yaml.parse(yaml_text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([1, event.anchor])
            if len(stack) > MAX_YAML_DEPTH:
                raise YamlLimitError(f"front matter nested deeper than {MAX_YAML_DEPTH} levels; not parsed")
            expanded += 1
            size = None
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = stack.pop()
            if anchor:
                anchors[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            expanded += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            size = anchors.get(event.anchor, 1)
            expanded += size
        else:
            continue
        if size is not None and stack:
            stack[-1][0] += size
        if expanded > MAX_YAML_NODES:
            raise YamlLimitError(
                f"front matter expands to more than {MAX_YAML_NODES} nodes (YAML alias expansion); not parsed"
            )


def load(yaml_text: str) -> tuple[yaml.Node | None, object]:
    """Check the limits, then compose and construct one document with the safe loader."""
    check_limits(yaml_text)
    loader = _CardLoader(yaml_text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def scalar_node(root: yaml.Node | None, *path: str) -> yaml.ScalarNode | None:
    """The composed scalar at a key path (for the text exactly as printed and its line)."""
    node = root
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return node if isinstance(node, yaml.ScalarNode) else None


def _yaml_kind(value: object) -> str:
    return {"list": "list", "str": "string", "int": "number", "float": "number", "bool": "boolean"}.get(
        type(value).__name__, type(value).__name__
    )


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:200]
