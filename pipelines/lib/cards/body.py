"""The Markdown body of a card as a flat list of blocks: headings, paragraphs, list items and tables.

markdown-it-py renders the Markdown (GitHub tables included) to HTML with raw HTML passed through, so
Markdown tables and the HTML <table>s of big-lab cards (Llama 3) are read the same way, by lxml's
HTML parser (which closes unclosed cells the way browsers do), walked directly: the same tree
beautifulsoup4 builds on lxml, at a fifth of the cost per card. Code blocks are skipped; script-like
elements are kept as their printed text, never interpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree
from markdown_it import MarkdownIt

MAX_MARKUP_CHARS = 50_000
MAX_MARKDOWN_LINES = 20_000  # 20 times the longest real card seen; each line costs markdown-it tokens
_MARKUP = "*_[]<>`|"
MAX_TABLE_ROWS = 500
MAX_TABLE_COLUMNS = 50
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_INERT = ("script", "style", "iframe", "object", "embed", "noscript", "template", "textarea")

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass
class Block:
    kind: str  # heading | paragraph | item | table
    text: str  # plain text; for an item its own text without nested lists
    headings: tuple[str, ...]  # heading path above the block
    parents: tuple[str, ...] = ()  # for an item: the text of each enclosing item, outermost first
    rows: list[list[str]] = field(default_factory=list)  # for a table
    number: int = 0  # for a table: 1-based position among the card's tables
    level: int = 0  # for a heading: 1 for <h1> ... 6 for <h6>
    rows_dropped: int = 0  # for a table: rows past MAX_TABLE_ROWS, not read
    position: int = 0  # for a paragraph or item: 1-based position among the text blocks of its section

    @property
    def section(self) -> str:
        return self.headings[-1] if self.headings else ""


def parse(markdown: str) -> tuple[list[Block], str | None]:
    """Blocks of a card body, and a note when the body was read as plain text instead of Markdown.

    markdown-it-py builds tokens per line and per delimiter, so a hostile body made of markup
    ('*a*a*a...', '[[[[...', a table of 100k rows) or of 200k one-word list items costs hundreds of MB;
    past MAX_MARKDOWN_LINES lines or MAX_MARKUP_CHARS markup characters (25 times the most markup-heavy
    real card seen) the body is read line by line as plain text.
    """
    lines = markdown.count("\n")
    if lines > MAX_MARKDOWN_LINES:
        return _number(plain_blocks(markdown)), (
            f"body has {lines} lines (limit {MAX_MARKDOWN_LINES}); read as plain text, tables not parsed"
        )
    markup = sum(markdown.count(c) for c in _MARKUP)
    if markup > MAX_MARKUP_CHARS:
        return _number(plain_blocks(markdown)), (
            f"body has {markup} Markdown markup characters (limit {MAX_MARKUP_CHARS});"
            " read as plain text lines, tables not parsed"
        )
    return _number(blocks(markdown)), None


def _number(result: list[Block]) -> list[Block]:
    """Number the paragraphs and items of each section, for locators that name a place, not a sentence."""
    count = 0
    for block in result:
        if block.kind == "heading":
            count = 0
        elif block.kind in ("paragraph", "item"):
            count += 1
            block.position = count
    return result


def plain_blocks(markdown: str) -> list[Block]:
    """Lines as paragraphs (and '# ' lines as headings): a bounded reading of a hostile body."""
    result: list[Block] = []
    headings: list[tuple[int, str]] = []
    for line in markdown.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*\S)", line)
        if heading:
            level = len(heading.group(1))
            headings = [h for h in headings if h[0] < level] + [(level, heading.group(2)[:200])]
            result.append(
                Block("heading", heading.group(2)[:200], tuple(h for _, h in headings), level=level)
            )
        elif re.search(r"[\d:：]", line):  # a line with neither a digit nor a colon holds no figure or field
            text = re.sub(r"\*\*|__|`", "", re.sub(r"^[\s>*+-]+|^\s*\d+[.)]\s+", "", line)).strip()
            result.append(Block("paragraph", text, tuple(h for _, h in headings)))
    return result


def _tree(html: str) -> etree._Element | None:
    """The HTML as an element tree (None for an empty document), script-like elements made printed text."""
    parser = etree.HTMLParser(recover=True)
    parser.feed(html)
    root = parser.close()
    if root is None:
        return None
    for element in list(root.iter(*_INERT)):
        if any(parent.tag in _INERT for parent in element.iterancestors()):
            continue  # printed with its enclosing element
        _replace_with_text(element, etree.tostring(element, method="html", encoding="unicode", with_tail=False))
    return root


def _replace_with_text(element: etree._Element, text: str) -> None:
    """Put `text` (and the element's tail) where the element was, as text of its parent."""
    text += element.tail or ""
    previous, parent = element.getprevious(), element.getparent()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(element)


def blocks(markdown: str) -> list[Block]:
    """Parse Markdown into blocks in document order."""
    root = _tree(_MARKDOWN.render(markdown))
    if root is None:
        return []
    result: list[Block] = []
    headings: list[tuple[int, str]] = []
    tables = 0
    for element in root.iter(*_HEADINGS, "p", "li", "table"):
        name = element.tag
        if _inside(element, ("pre", "code")) or (name != "table" and _inside(element, ("table",))):
            continue
        if name in _HEADINGS:
            text = plain(element)
            if text:  # an empty heading ("##" alone) closes nothing
                level = int(name[1])
                headings = [h for h in headings if h[0] < level] + [(level, text)]
                result.append(Block("heading", text, tuple(h for _, h in headings), level=level))
            continue
        path = tuple(h for _, h in headings)
        if name == "table":
            if _inside(element, ("table",)):
                continue
            tables += 1
            all_rows = sum(1 for _ in element.iter("tr"))
            result.append(
                Block(
                    "table",
                    "",
                    path,
                    rows=table_rows(element),
                    number=tables,
                    rows_dropped=max(0, all_rows - MAX_TABLE_ROWS),
                )
            )
        elif name == "li":
            parents = tuple(plain_own(li) for li in reversed(_ancestors(element, ("li",))))
            result.append(Block("item", plain_own(element), path, parents=parents))
        elif name == "p" and not _inside(element, ("li",)):
            text = plain(element)
            if text:
                result.append(Block("paragraph", text, path))
    return result


def _text(element: etree._Element) -> str:
    """All the text inside an element (comments left out), like a browser's textContent."""
    return "".join(element.itertext())


def plain(element: etree._Element) -> str:
    """An element's text with inline markup dropped ('CO<sub>2</sub>' -> 'CO2'), whitespace collapsed."""
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\s*\n\s*", "\n", _text(element))).strip()


def plain_own(item: etree._Element) -> str:
    """A list item's own text: its paragraphs and inline content, without nested lists."""
    parts = [item.text or ""]
    for child in item:
        if not isinstance(child.tag, str):  # a comment: its words count as printed text here
            parts.append(child.text or "")
        elif child.tag not in ("ul", "ol"):
            parts.append(_text(child) + ("\n" if child.tag == "p" else ""))
        parts.append(child.tail or "")
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\s*\n\s*", "\n", "".join(parts))).strip()


def table_rows(table: etree._Element) -> list[list[str]]:
    """Rows of cell texts, with colspan/rowspan expanded so every column lines up (sizes capped)."""
    grid: list[list[str]] = []
    carried: dict[int, tuple[str, int]] = {}  # column -> (text, rows still to fill) from a rowspan
    for tr in list(table.iter("tr"))[:MAX_TABLE_ROWS]:
        if next(iter(_ancestors(tr, ("table",))), None) is not table:
            continue
        row: list[str] = []
        cells = [cell for cell in tr if cell.tag in ("td", "th")]
        queue = list(cells)
        while (queue or row_has_carry(carried, len(row))) and len(row) < MAX_TABLE_COLUMNS:
            col = len(row)
            if col in carried:
                text, left = carried[col]
                row.append(text)
                carried[col] = (text, left - 1)
                if left - 1 <= 0:
                    del carried[col]
                continue
            if not queue:
                break
            cell = queue.pop(0)
            text = re.sub(r"\s+", " ", _text(cell)).strip()
            span = _span(cell.get("colspan"))
            down = _span(cell.get("rowspan"))
            for _ in range(min(span, MAX_TABLE_COLUMNS - len(row))):
                if down > 1:
                    carried[len(row)] = (text, down - 1)
                row.append(text)
        grid.append(row)
    return grid


def row_has_carry(carried: dict[int, tuple[str, int]], column: int) -> bool:
    return any(c >= column for c in carried)


def _span(value: object) -> int:
    try:
        return max(1, min(int(str(value)), MAX_TABLE_ROWS))
    except (TypeError, ValueError):
        return 1


def _ancestors(element: etree._Element, names: tuple[str, ...]) -> list[etree._Element]:
    """The enclosing elements named `names`, nearest first."""
    return [parent for parent in element.iterancestors() if parent.tag in names]


def _inside(element: etree._Element, names: tuple[str, ...]) -> bool:
    return any(parent.tag in names for parent in element.iterancestors())
