"""Emissions tables in papers and model cards: document bytes + a `TableSpec` -> figure rows.

Three steps, each usable on its own:

- `extract_tables(data, content_type_or_suffix)`: every table of an HTML, Markdown or MDX document as a
  grid of cell texts (HTML row/col spans expanded, Markdown pipe tables and raw HTML tables inside
  Markdown), with its "Table N" label, caption, the text next to it and its position. Converter damage
  that can be recognised is repaired and recorded in `Table.repairs`.
- `find_table(tables, spec)` and `spec_rows(table, spec, source)`: the table a spec names, and one figure
  row (normalize.FIGURE_COLUMNS) per model row and metric, value and unit split exactly as printed.
- `cross_check(extracted_rows, curated_rows)`: table figures against the curated figures of the same table.

`extract_source` runs all of a registry entry's specs and returns figure rows plus quarantine rows.
Only bytes are parsed here; fetching is the ingest stage's job.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from markdown_it import MarkdownIt

from pipelines.lib import units
from pipelines.lib.curated import ColumnSpec, Source, TableSpec, disclosure_id
from pipelines.lib.normalize import FIGURE_COLUMNS, quarantine_row

EXTRACTION_METHOD = "table"
_CAPTION_WINDOW = 4  # blocks (paragraphs, headings) searched on each side of a table for its caption


class TableExtractionError(ValueError):
    """A document or spec that cannot be turned into table rows; the message says what and where."""


class TableNotFound(TableExtractionError):
    """No table, or more than one, matches a spec's `table`."""


@dataclass
class Table:
    cells: list[list[str]]  # rows of cell texts; every row as wide as the widest
    header_rows: int  # leading rows the document marks as header (thead, th cells, Markdown header)
    label: str | None  # "Table 15" when a caption next to the table names it
    caption: str | None  # that caption's text
    text_before: str | None  # the paragraph or heading just before the table
    text_after: str | None  # ... and just after
    heading: str | None  # the nearest section heading above
    index: int  # 0-based position among the document's tables
    line: int | None  # 1-based first line in the source (Markdown) or None (HTML documents)
    kind: str  # "markdown" | "html"
    repairs: list[str] = field(default_factory=list)  # converter damage found and undone

    def where(self) -> str:
        at = f"line {self.line}" if self.line else f"table #{self.index + 1}"
        return f"{self.label or 'unlabelled table'} ({self.kind}, {at})"


# ---------------------------------------------------------------- text of cells and blocks

_SUB_OPEN, _SUB_CLOSE = "\x01", "\x02"  # subscripts are glued to their neighbours: "tCO <sub>2</sub> eq"
_FOOTNOTE = re.compile(r"\s*([*∗†‡§¶]+)$")


def _join_lines(lines: list[str]) -> str:
    """Join the lines of a cell broken by <br> or a converter; undo line-end hyphenation ("Trans-former")."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-") and len(out) > 1 and out[-2].islower() and line[0].islower():
            out = out[:-1] + line  # a word hyphenated at the line end
        elif out.endswith("-") or line.startswith("-"):
            out += line  # a hyphenated name broken at its hyphen: "A100-" + "80GB", "Gshard" + "-600B"
        else:
            out += " " + line
    return out


def _clean(text: str) -> str:
    text = re.sub(rf"\s*{_SUB_OPEN}\s*", "", text)
    # "CO2 eq"/"CO2 e" units: the converter puts a space after the subscript; a following word keeps it
    text = re.sub(rf"\s*{_SUB_CLOSE}(?:[ \t]+(?=eq?\b))?", "", text)
    text = text.replace("\u00a0", " ")
    return re.sub(r"[ \t\r\f\v]+", " ", _join_lines(text.split("\n"))).strip()


def _norm_label(text: str | None) -> str:
    """A row or column label for a locator: compatibility forms folded (math italics, subscript digits)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.replace("[]", "")  # an image placeholder left by converters ("[]OLMo-7B")
    return re.sub(r"\s+", " ", text).strip()


def _match_key(text: str | None) -> str:
    """Loose key for comparing labels: case, runs of spaces and trailing footnote marks ignored."""
    text = _FOOTNOTE.sub("", _norm_label(text)).casefold()
    return re.sub(r"\s+", " ", text).strip()


def _column_key(text: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", _match_key(text))


def _inline_text(children) -> str:
    """Text of a markdown-it inline token: markup dropped, <br> as a line break, link text kept."""
    out = []
    for tok in children or []:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif tok.type == "image":
            out.append(tok.content)
        elif tok.type == "html_inline":
            tag = tok.content.lower()
            if re.match(r"<br\b|</?p\b", tag):
                out.append("\n")
            elif re.match(r"<sub\b", tag):
                out.append(_SUB_OPEN)
            elif tag.startswith("</sub"):
                out.append(_SUB_CLOSE)
    return _clean("".join(out))


_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "tr", "table", "dd", "dt", "figcaption", "caption"}


def _html_text(node: Tag) -> str:
    """Text of an HTML element: source line breaks are spaces, <br>/<p> are line breaks."""
    parts: list[str] = []

    def walk(n: Tag) -> None:
        for child in n.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                parts.append(re.sub(r"\s+", " ", str(child)))
            elif child.name == "br":
                parts.append("\n")
            elif child.name in ("script", "style"):
                continue
            elif child.name == "math":  # MathML: the rendered symbols, not the TeX source in <annotation>
                parts.append("".join(t.strip() for t in child.find_all(string=True)
                                     if not t.find_parent(["annotation", "annotation-xml"])))
            elif child.name == "sub":
                parts.append(_SUB_OPEN)
                walk(child)
                parts.append(_SUB_CLOSE)
            elif child.name in _BLOCK_TAGS:
                parts.append("\n")
                walk(child)
                parts.append("\n")
            else:
                walk(child)

    walk(node)
    return _clean("".join(parts))


# ---------------------------------------------------------------- grids

def _rectangular(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def _span(cell: Tag, attr: str) -> int:
    try:
        return max(1, min(int(str(cell.get(attr, "1")).strip() or 1), 1000))
    except ValueError:
        return 1


def _take_spanned(row: list[str], pending: dict[int, tuple[int, str]]) -> None:
    """Fill the next cells of `row` with cells spanned down from rows above."""
    while len(row) in pending:
        left, text = pending.pop(len(row))
        if left > 1:
            pending[len(row)] = (left - 1, text)
        row.append(text)


def _html_grid(table: Tag) -> tuple[list[list[str]], int]:
    """Rows of a <table> (not of tables nested in its cells), spans expanded; and its header row count."""
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    grid: list[list[str]] = []
    pending: dict[int, tuple[int, str]] = {}  # column -> (rows still covered, text) from a rowspan
    header_rows, leading = 0, True
    for tr in rows:
        cells = tr.find_all(["td", "th"], recursive=False)
        row: list[str] = []
        for cell in cells:
            _take_spanned(row, pending)
            text = _html_text(cell)
            rowspan, colspan = _span(cell, "rowspan"), _span(cell, "colspan")
            for _ in range(colspan):
                if rowspan > 1:
                    pending[len(row)] = (rowspan - 1, text)
                row.append(text)
        _take_spanned(row, pending)
        while pending and max(pending) >= len(row):  # spans reaching past this row's last cell
            if len(row) in pending:
                _take_spanned(row, pending)
            else:
                row.append("")
        in_thead = tr.find_parent("thead") is not None
        is_header = bool(cells) and (in_thead or all(c.name == "th" for c in cells))
        if leading and is_header:
            header_rows += 1
        else:
            leading = False
        grid.append(row)
    return _rectangular(grid), header_rows


_PIPE_SPLIT = re.compile(r"(?<!\\)\|")
_DELIMITER_CELL = re.compile(r"^:?-{1,}:?$")


def _split_pipe_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip() for c in _PIPE_SPLIT.split(s)]


def _is_delimiter_row(line: str) -> bool:
    cells = _split_pipe_row(line)
    return bool(cells) and all(_DELIMITER_CELL.match(c.replace(" ", "")) for c in cells if c) and any(cells)


def _rebuild_nested_header(segments: list[str], width: int) -> list[str] | None:
    """Undo a converter that flattened a multi-line header cell into a nested pipe table.

    A nested cell shows up as '', line1, '', '---', '', line2, ('', lineN)*, '' between the outer
    pipes; a plain cell as one segment. Find the one reading that gives `width` cells.
    """
    n = len(segments)
    solutions: list[list[str]] = []

    def nested_ends(i: int) -> list[tuple[int, str]]:
        # segments[i] == '' opens it; then content, '', '---', '', content, ('', content)*, ''
        if i + 6 > n or segments[i] or not segments[i + 1] or segments[i + 2] or segments[i + 3] != "---":
            return []
        if segments[i + 4] or not segments[i + 5]:
            return []
        lines = [segments[i + 1], segments[i + 5]]
        ends, j = [], i + 6
        while True:
            if j < n and segments[j] == "":
                ends.append((j + 1, " ".join(lines)))
            if j + 1 < n and segments[j] == "" and segments[j + 1] and segments[j + 1] != "---":
                lines = lines + [segments[j + 1]]
                j += 2
            else:
                return ends

    def parse(i: int, cells: list[str]) -> None:
        if len(solutions) > 1 or len(cells) > width:
            return
        if i == n:
            if len(cells) == width:
                solutions.append(cells)
            return
        for end, text in nested_ends(i):
            parse(end, cells + [text])
        if segments[i] != "---":
            parse(i + 1, cells + [segments[i]])

    parse(0, [])
    return solutions[0] if len(solutions) == 1 else None


def _shifted_header(header: list[str], body: list[list[str]]) -> tuple[list[str], int] | None:
    """A header printed over the wrong columns: its labels sit over empty columns while every column
    holding numbers has no label. Return the header moved right onto the numeric columns, and the shift."""
    width = len(header)
    numeric = {c for c in range(width) if any(c < len(r) and _is_bare_number(r[c]) for r in body)}
    labelled = {c for c in range(width) if header[c]}
    if not numeric or not labelled or numeric & labelled or len(numeric) != len(labelled):
        return None
    shift = min(numeric) - min(labelled)
    if shift <= 0 or {c + shift for c in labelled} != numeric:
        return None
    return [""] * shift + header[: width - shift], shift


# ---------------------------------------------------------------- Markdown

_MD = MarkdownIt("commonmark", {"html": True}).enable("table")
_CAPTION = re.compile(r"^\W{0,3}((?:Table|TABLE|Tab\.)\s*(?:[A-Z]\.?)?\d+[a-z]?)\s*(?:[:.|(\-—–]|$)")


@dataclass
class _Block:
    start: int  # 0-based first line
    end: int  # 0-based line after the last
    kind: str  # "text" | "heading" | "table"
    text: str = ""
    table: Table | None = None


def _html_table_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of top-level <table>...</table> elements in a Markdown source."""
    spans, depth, start = [], 0, 0
    for m in re.finditer(r"<(/?)table\b[^>]*>", text, flags=re.IGNORECASE):
        if not m.group(1):
            if depth == 0:
                start = m.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, m.end()))
    if depth:
        spans.append((start, len(text)))  # an unclosed table runs to the end; lxml closes it
    return spans


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace spans by spaces, keeping line breaks, so line numbers stay valid."""
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def _strip_front_matter(text: str) -> str:
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return "\n" * i + "\n" + "\n".join(lines[i + 1:])
    return text


def _markdown_table(tokens, i: int) -> tuple[list[list[str]], int, int]:
    """Cells of the markdown-it table opening at tokens[i]; header row count; index of table_close."""
    rows: list[list[str]] = []
    header_rows = 0
    in_head = False
    while tokens[i].type != "table_close":
        tok = tokens[i]
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            rows.append([])
            header_rows += in_head
        elif tok.type == "inline":
            rows[-1].append(_inline_text(tok.children))
        i += 1
    return _rectangular(rows), header_rows, i


def _pipe_table_fallback(lines: list[str], start: int,
                         end: int) -> tuple[list[list[str]], list[str], int] | None:
    """A pipe table markdown-it rejects (its header has more cells than its delimiter row, typically a
    header flattened from nested tables): cells from the raw lines, header rebuilt to the body width;
    the repairs made; the table's first line."""
    block = lines[start:end]  # a paragraph has no blank lines
    first = next((j for j in range(len(block) - 1)
                  if block[j].lstrip().startswith("|") and _is_delimiter_row(block[j + 1])), None)
    if first is None:
        return None
    block = block[first:]
    block = block[:next((j for j, ln in enumerate(block) if not ln.lstrip().startswith("|")), len(block))]
    if len(block) < 3:
        return None
    body = [[_inline_text(_MD.parseInline(c)[0].children) for c in _split_pipe_row(ln)] for ln in block[2:]]
    width = Counter(len(r) for r in body).most_common(1)[0][0]
    segments = [""] + _split_pipe_row(block[0]) + [""]
    header = _rebuild_nested_header(segments[1:-1], width) or _rebuild_nested_header(segments, width)
    repairs = []
    if header is None:
        repairs.append(f"header row has {len(segments) - 2} cells for {width} columns and could not be "
                       "rebuilt; column labels are missing")
        header = [""] * width
    else:
        repairs.append("header cells flattened from nested tables by the converter were rejoined")
    header = [_inline_text(_MD.parseInline(c)[0].children) if c else "" for c in header]
    rows = [header] + [r[:width] if not any(r[width:]) else r for r in body]
    return _rectangular(rows), repairs, start + first


def _code_line_ranges(text: str) -> list[tuple[int, int]]:
    return [tuple(t.map) for t in _MD.parse(text) if t.type in ("fence", "code_block") and t.map]


def _markdown_blocks(text: str) -> list[_Block]:
    text = _strip_front_matter(text)
    code = _code_line_ranges(text) if "<table" in text.lower() else []
    spans = [(a, b) for a, b in _html_table_spans(text)
             if not any(lo <= text.count("\n", 0, a) < hi for lo, hi in code)]
    source = _blank_out(text, spans)
    lines = source.split("\n")
    tokens = _MD.parse(source)
    blocks: list[_Block] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "table_open":
            cells, header_rows, i = _markdown_table(tokens, i)
            table = Table(cells, header_rows, None, None, None, None, None, 0, tok.map[0] + 1, "markdown")
            blocks.append(_Block(tok.map[0], tok.map[1], "table", table=table))
        elif tok.type in ("paragraph_open", "heading_open") and tok.map:
            start, end = tok.map
            fallback = _pipe_table_fallback(lines, start, end)
            if fallback:
                cells, repairs, first = fallback
                table = Table(cells, 1, None, None, None, None, None, 0, first + 1, "markdown", repairs)
                blocks.append(_Block(start, end, "table", table=table))
            elif content := _inline_text(tokens[i + 1].children):
                kind = "heading" if tok.type == "heading_open" else "text"
                blocks.append(_Block(start, end, kind, content))
            i += 2
        elif tok.type == "html_block" and tok.map and tok.content.strip():
            fragment = _html_text(BeautifulSoup(tok.content, "lxml"))
            if fragment:
                blocks.append(_Block(tok.map[0], tok.map[1], "text", fragment))
        i += 1
    for a, b in spans:
        soup = BeautifulSoup(text[a:b], "lxml")
        element = soup.find("table")
        if element is None:
            continue
        cells, header_rows = _html_grid(element)
        first = text.count("\n", 0, a)
        table = Table(cells, header_rows, None, None, None, None, None, 0, first + 1, "html")
        if not text[a:b].rstrip().lower().endswith("</table>"):
            table.repairs.append("the <table> element is not closed; it was read to the end of the document")
        blocks.append(_Block(first, text.count("\n", 0, b) + 1, "table", table=table))
    blocks.sort(key=lambda b: (b.start, b.kind != "table"))
    return blocks


def _attach_context(blocks: list[_Block]) -> list[Table]:
    """Give every table its neighbouring text, section heading and caption ("Table N ..." nearby)."""
    tables = [b for b in blocks if b.kind == "table"]
    heading = None
    candidates: list[tuple[int, int, int, str, int]] = []  # (distance, direction, table#, label, block#)
    position = {id(b): k for k, b in enumerate(blocks)}
    for n, block in enumerate(tables):
        table = block.table
        table.index = n
        k = position[id(block)]
        before = blocks[max(0, k - _CAPTION_WINDOW):k][::-1]
        after = blocks[k + 1:k + 1 + _CAPTION_WINDOW]
        table.text_before = before[0].text if before and before[0].kind != "table" else None
        table.text_after = after[0].text if after and after[0].kind != "table" else None
        for direction, side in ((1, after), (0, before)):
            for distance, b in enumerate(side, start=1):
                if b.kind == "table":
                    break
                m = _CAPTION.match(_norm_label(b.text))
                if m:
                    label = re.sub(r"\s+", " ", m.group(1))
                    candidates.append((distance, direction, n, label, position[id(b)]))
    for block in blocks:  # nearest heading above each table
        if block.kind == "heading":
            heading = block.text
        elif block.kind == "table":
            block.table.heading = heading
    # captions below the table are the commoner convention; a document's own habit decides ties
    below = sum(1 for c in candidates if c[0] == 1 and c[1] == 1)
    above = sum(1 for c in candidates if c[0] == 1 and c[1] == 0)
    prefer = 1 if below >= above else 0
    claimed: set[int] = set()
    for _distance, _direction, n, label, k in sorted(candidates, key=lambda c: (c[0], c[1] != prefer)):
        table = tables[n].table
        if table.label is None and k not in claimed:
            table.label, table.caption = label, blocks[k].text
            claimed.add(k)
    return [b.table for b in tables]


def _repair(table: Table) -> None:
    """Undo a header the converter printed over the wrong columns (Llama 2 paper, Table 2)."""
    if table.header_rows != 1 or len(table.cells) < 2:
        return
    moved = _shifted_header(table.cells[0], table.cells[1:])
    if moved:
        table.cells[0], shift = moved
        table.repairs.append(f"header labels sat {shift} columns left of the numeric columns (converter "
                             f"damage) and were moved right by {shift}")


# ---------------------------------------------------------------- HTML documents

_TEXT_BLOCKS = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption"]


def _adjacent_block(anchor: Tag, table: Tag, direction: str) -> Tag | None:
    """The text block just before/after a table (or its figure), unless another table lies between."""
    find = anchor.find_previous if direction == "previous" else anchor.find_next
    block = find(_TEXT_BLOCKS)
    if block is None or block.find_parent("table") is not None:
        return None
    between = block.find_next("table") if direction == "previous" else block.find_previous("table")
    while between is not None and between.find_parent("table") is not None:
        between = between.find_parent("table")
    return block if between is table else None


def _html_tables(data: bytes) -> list[Table]:
    soup = BeautifulSoup(data, "lxml")
    tables = []
    for element in soup.find_all("table"):
        if element.find_parent("table") is not None:
            continue  # a table inside a cell is part of that cell's text
        cells, header_rows = _html_grid(element)
        caption_tag = element.find("caption")
        figure = element.find_parent(["figure"])
        if caption_tag is None and figure is not None:
            caption_tag = figure.find("figcaption")
        caption = _html_text(caption_tag) if caption_tag else None
        anchor = figure or element
        prev_block = _adjacent_block(anchor, element, "previous")
        next_block = _adjacent_block(anchor, element, "next")
        heading = anchor.find_previous(["h1", "h2", "h3", "h4", "h5", "h6"])
        label = None
        for text in (caption, next_block and _html_text(next_block), prev_block and _html_text(prev_block)):
            m = _CAPTION.match(_norm_label(text)) if text else None
            if m:
                label, caption = re.sub(r"\s+", " ", m.group(1)), caption or text
                break
        tables.append(Table(cells, header_rows, label, caption,
                            _html_text(prev_block) if prev_block else None,
                            _html_text(next_block) if next_block else None,
                            _html_text(heading) if heading else None, len(tables), None, "html"))
    return tables


# ---------------------------------------------------------------- public: tables of a document

_HTML_TYPES = {"html", "htm", "xhtml", "text/html", "application/xhtml+xml"}
_MARKDOWN_TYPES = {"md", "markdown", "mdx", "text/markdown", "text/x-markdown", "text/mdx", "text/plain"}


def document_kind(content_type_or_suffix: str) -> str:
    """'text/html; charset=utf-8', '.html' -> 'html'; 'text/markdown', '.md', '.mdx' -> 'markdown'."""
    key = (content_type_or_suffix or "").split(";")[0].strip().lower().lstrip(".")
    if key in _HTML_TYPES:
        return "html"
    if key in _MARKDOWN_TYPES:
        return "markdown"
    raise TableExtractionError(f"cannot read tables from a document of type {content_type_or_suffix!r}; "
                               f"known: {sorted(_HTML_TYPES | _MARKDOWN_TYPES)}")


def extract_tables(data: bytes, content_type_or_suffix: str) -> list[Table]:
    """Every table of an HTML, Markdown or MDX document, in document order."""
    kind = document_kind(content_type_or_suffix)
    if kind == "html":
        tables = _html_tables(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TableExtractionError(f"Markdown document is not UTF-8: {exc}") from exc
        tables = _attach_context(_markdown_blocks(text.replace("\r\n", "\n")))
    for table in tables:
        _repair(table)
    return tables


def orphan_captions(data: bytes, content_type_or_suffix: str) -> list[str]:
    """'Table N' captions with no table next to them (a table the converter flattened into text)."""
    if document_kind(content_type_or_suffix) != "markdown":
        return []
    blocks = _markdown_blocks(data.decode("utf-8-sig", errors="replace"))
    labels = {t.label for t in _attach_context(blocks) if t.label}
    found = []
    for b in blocks:
        m = b.kind != "table" and _CAPTION.match(_norm_label(b.text))
        if m and re.sub(r"\s+", " ", m.group(1)) not in labels and m.group(0).rstrip()[-1:] in ":.|":
            found.append(f"{re.sub(r'[ ]+', ' ', m.group(1))} (line {b.start + 1})")
    return found


def _is_label(text: str) -> bool:
    return bool(re.fullmatch(r"(?:Table|Tab\.)\s*(?:[A-Z]\.?)?\d+[a-z]?", text.strip(), flags=re.IGNORECASE))


def find_table(tables: list[Table], spec: TableSpec) -> Table:
    """The one table `spec.table` names: by its "Table N" label, else by words of its caption, of the
    text just before or after it, or of its section heading (model cards have no numbered tables)."""
    want = _match_key(spec.table)
    if _is_label(spec.table):
        levels = [[t for t in tables if t.label and _match_key(t.label) == want]]
    else:
        levels = [
            [t for t in tables if want in _match_key(t.caption)],
            [t for t in tables if want in _match_key(t.text_before) or want in _match_key(t.text_after)],
            [t for t in tables if want in _match_key(t.heading)],
        ]
    for found in levels:
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise TableNotFound(f"{spec.table!r} matches {len(found)} tables: "
                                + ", ".join(t.where() for t in found))
    labels = sorted({t.label for t in tables if t.label})
    raise TableNotFound(f"no table matches {spec.table!r} among {len(tables)} tables"
                        + (f" (labelled: {', '.join(labels)})" if labels else ""))


# ---------------------------------------------------------------- public: figure rows

_BARE_NUMBER = re.compile(r"^[~≈<>]?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*[kKM]?[*∗†‡§]*$")
_VALUE = re.compile(
    r"^(?P<value>(?:~|≈|<|>|about\s+|approx\.\s*|approximately\s+)?"
    r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:\s?[kKMB](?![A-Za-z]))?)"
    r"\s*(?P<unit>.*?)$", re.IGNORECASE)
_BLANK = {"", "-", "—", "–", "--", "n/a", "na", "none", "?", "·"}
_TOTAL = re.compile(r"^(total|sum|overall)\b", re.IGNORECASE)


def _is_bare_number(cell: str) -> bool:
    return bool(_BARE_NUMBER.match(cell.strip()))


def _looks_numeric(cell: str) -> bool:
    return bool(_VALUE.match(_FOOTNOTE.sub("", cell.strip())))


def split_value(cell: str) -> tuple[str, str, str | None]:
    """'356 MWh' -> ('356', 'MWh', None); '400W' -> ('400', 'W', None); '0*' -> ('0', '', '*').

    Raises ValueError when the cell is not one number with an optional unit.
    """
    text = cell.strip()
    footnote = None
    m = _FOOTNOTE.search(text)
    if m:
        footnote, text = m.group(1), text[: m.start()].strip()
    if re.search(r"\\times\s*10\^", text):
        raise ValueError("a number in LaTeX scientific notation, which the unit normalizer does not read")
    m = _VALUE.match(text)
    if not m:
        raise ValueError("not a number")
    value, unit = m.group("value").strip(), m.group("unit").strip()
    if re.search(r"(?<![A-Za-z\d.^-])\d", re.sub(r"CO2|CO₂", "", unit)):
        raise ValueError("more than one number in the cell")
    return value, unit, footnote


def _column_specs(spec: TableSpec) -> list[ColumnSpec]:
    main = [ColumnSpec(metric=m, column=c) for m, c in spec.columns.items()]
    return main + list(spec.more_columns)


def _header_block(grid: list[list[str]], first: int, columns: list[ColumnSpec]) -> int:
    """Header rows continue while no metric column holds a number (units rows such as "(MWh)")."""
    n = first
    while n < len(grid) and not any(_looks_numeric(grid[n][c.column]) for c in columns):
        n += 1
    return n


def _column_label(grid: list[list[str]], header_n: int, column: int) -> str:
    parts: list[str] = []
    for r in range(header_n):
        text = grid[r][column]
        if text and (not parts or parts[-1] != text):
            parts.append(text)
    return _norm_label(" ".join(parts))


def _disambiguate(labels: dict[int, str], grid: list[list[str]], skip: set[int]) -> dict[int, str]:
    """Rows sharing a label get the first other column that tells them apart: "BERTbase (V100x64)"."""
    groups = defaultdict(list)
    for r, label in labels.items():
        groups[_norm_label(label).casefold()].append(r)
    out = dict(labels)
    width = len(grid[0]) if grid else 0
    for rows in (g for g in groups.values() if len(g) > 1):
        for c in (c for c in range(width) if c not in skip):
            values = [_norm_label(grid[r][c]) for r in rows]
            if all(values) and len(set(values)) == len(values):
                for r, v in zip(rows, values, strict=True):
                    out[r] = f"{labels[r]} ({v})"
                break
        else:
            for k, r in enumerate(rows, start=1):
                out[r] = f"{labels[r]} (#{k})"
    return out


def _transpose(cells: list[list[str]]) -> list[list[str]]:
    return [list(col) for col in zip(*cells, strict=True)] if cells else []


def spec_rows(table: Table, spec: TableSpec, source: Source, *, snapshot_sha256: str | None = None,
              issues: list[dict] | None = None) -> list[dict]:
    """One figure row per model row and metric column of `table` as `spec` describes it.

    Cells that hold no figure ('-', '—', blank) are skipped. A cell that is not one number with an
    optional unit, or a row with figures but no model name, becomes a quarantine row appended to
    `issues`; without an `issues` list such a cell raises TableExtractionError instead.
    """
    if issues is None:
        found: list[dict] = []
        rows = spec_rows(table, spec, source, snapshot_sha256=snapshot_sha256, issues=found)
        if found:
            raise TableExtractionError("; ".join(f"{i['locator']}: {i['reason']} ({i['item']!r})"
                                                 for i in found))
        return rows
    grid = _transpose(table.cells) if spec.transposed else table.cells
    prefix = spec.locator or spec.table
    columns = _column_specs(spec)
    width = len(grid[0]) if grid else 0
    used = [spec.model_column, *spec.name_columns, *(c.column for c in columns)]
    bad = [i for i in used if i >= width]
    if bad:
        axis = "rows" if spec.transposed else "columns"
        raise TableExtractionError(f"{prefix}: spec names {axis} {bad} but {table.where()} has "
                                   f"{width} {axis}")
    header_n = _header_block(grid, 0 if spec.transposed else table.header_rows, columns)
    labels_of = {c.column: _column_label(grid, header_n, c.column) for c in columns}
    notes = list(table.repairs)

    def cell_locator(label: str, column: int) -> str:
        column_label = labels_of[column] or f"(no header, index {column})"
        if spec.transposed:
            return f"{prefix}, column {label}, row {column_label}"
        return f"{prefix}, row {label}, column {column_label}"

    model_rows: dict[int, str] = {}
    for r in range(header_n, len(grid)):
        row = grid[r]
        has_values = any(row[c.column].strip().lower() not in _BLANK for c in columns)
        name_cells = [row[c] for c in [spec.model_column, *spec.name_columns]]
        label = " ".join(_norm_label(c) for c in name_cells if c.strip())
        if not has_values:
            continue
        if not label:
            issues.append(quarantine_row("extract", source.source_id, f"{prefix}, row index {r}",
                                         " | ".join(row), "row holds figures but no model name"))
            continue
        if _TOTAL.match(label) and not spec.totals:
            continue
        model_rows[r] = label
    skip = {spec.model_column, *spec.name_columns, *(c.column for c in columns)}
    model_rows = _disambiguate(model_rows, grid, skip)

    out = []
    for r, label in model_rows.items():
        for col in columns:
            cell = grid[r][col.column].strip()
            if cell.lower() in _BLANK:
                continue
            locator = cell_locator(label, col.column)
            try:
                value, unit, footnote = split_value(cell)
            except ValueError as exc:
                issues.append(quarantine_row("extract", source.source_id, locator, cell,
                                             f"{col.metric}: cell is {exc}"))
                continue
            unit = unit or col.unit or spec.units.get(col.metric) or ""
            stage = col.stage or spec.stage
            functional_unit = col.functional_unit or spec.functional_unit
            row_notes = notes + ([f"footnote mark {footnote} printed after the value"] if footnote else [])
            figure = dict.fromkeys(FIGURE_COLUMNS)
            figure.update({
                "disclosure_id": disclosure_id(source.source_id, "", stage or "", col.metric, col.basis,
                                               functional_unit, locator),
                "source_id": source.source_id,
                "model_name": label,
                "stage": stage,
                "metric": col.metric,
                "basis": col.basis,
                "functional_unit": functional_unit,
                "value_as_printed": value,
                "unit_as_printed": unit,
                "locator": locator,
                "is_superseded": False,
                "note": "; ".join(row_notes) or None,
                "extraction_method": EXTRACTION_METHOD,
                "source_url": source.url,
                "snapshot_sha256": snapshot_sha256,
            })
            out.append(figure)
    return out


def extract_source(data: bytes, content_type_or_suffix: str, source: Source, *,
                   snapshot_sha256: str | None = None) -> tuple[list[dict], list[dict]]:
    """All figure rows of a registry entry's extraction specs, and quarantine rows for what failed."""
    rows: list[dict] = []
    issues: list[dict] = []
    try:
        tables = extract_tables(data, content_type_or_suffix)
    except TableExtractionError as exc:
        return [], [quarantine_row("extract", source.source_id, None, None, str(exc))]
    for spec in source.extraction:
        try:
            table = find_table(tables, spec)
            rows.extend(spec_rows(table, spec, source, snapshot_sha256=snapshot_sha256, issues=issues))
        except TableExtractionError as exc:
            hint = orphan_captions(data, content_type_or_suffix) if isinstance(exc, TableNotFound) else []
            reason = str(exc) + (f"; captions with no table next to them: {', '.join(hint)}" if hint else "")
            where = spec.locator or spec.table
            issues.append(quarantine_row("extract", source.source_id, where, None, reason))
    return rows, issues


# ---------------------------------------------------------------- public: cross-check with curated figures

_LOCATOR = re.compile(
    r"^(?P<prefix>.*?), (?P<first>row|column) (?P<a>.*?), (?P<second>row|column) (?P<b>.*)$")


def parse_locator(locator: str | None) -> tuple[str, str, str] | None:
    """'Table 15, row OPT-175B, column GPU-hours' -> ('Table 15', 'OPT-175B', 'GPU-hours'). For a
    transposed table ('..., column T5, row Energy Consumption (MWh)') the model is the column."""
    m = _LOCATOR.match(locator or "")
    if not m or m.group("first") == m.group("second"):
        return None
    return m.group("prefix"), m.group("a"), m.group("b")


def _same_value(metric: str, a: dict, b: dict) -> tuple[bool, str]:
    pa, pb = a["value_as_printed"].strip(), b["value_as_printed"].strip()
    try:
        na = units.normalize(metric, pa, a["unit_as_printed"])
        nb = units.normalize(metric, pb, b["unit_as_printed"])
    except units.UnitError as exc:
        same = pa == pb and units.unit_key(a["unit_as_printed"]) == units.unit_key(b["unit_as_printed"])
        return same, f"compared as printed ({exc})"
    same = math.isclose(na.value, nb.value, rel_tol=1e-9, abs_tol=1e-12)
    if same and (pa, a["unit_as_printed"]) != (pb, b["unit_as_printed"]):
        return True, "same value, printed differently"
    return same, ""


def cross_check(extracted_rows: list[dict], curated_rows: list[dict]) -> list[dict]:
    """Compare table-extracted figures with the curated figures of the same tables.

    A curated figure takes part when its source has extracted rows and its locator names one of the
    same tables ("<table>, row <model>, column <header>"). Figures pair on model (row label as printed,
    then ignoring case and footnote marks, then a label that is the tail of the other: "7B" / "Llama 2
    7B") and
    metric, then column header, then basis. Each result row has a `status`: agree, disagree,
    only_extracted or only_curated, with both values.
    """
    def keyed(rows):
        out = defaultdict(list)
        for row in rows:
            parsed = parse_locator(row.get("locator"))
            if parsed:
                prefix, model, column = parsed
                out[(row["source_id"], _match_key(prefix), row["metric"])].append((row, model, column))
        return out

    extracted = keyed(extracted_rows)
    curated = keyed(r for r in curated_rows if r.get("source_id") in {e["source_id"] for e in extracted_rows})
    tables = {(k[0], k[1]) for k in extracted}
    results = []
    for key in sorted(set(extracted) | {k for k in curated if (k[0], k[1]) in tables}):
        ext, cur = list(extracted.get(key, [])), list(curated.get(key, []))
        pairs = []
        for model_match in (_models_same, _models_equal, _model_is_tail):
            for column_match in (_columns_equal, _same_basis, lambda e, c: True):
                for e in list(ext):
                    options = [c for c in cur if model_match(e[1], c[1]) and column_match(e, c)]
                    if len(options) == 1:
                        pairs.append((e, options[0]))
                        ext.remove(e)
                        cur.remove(options[0])
        for e, c in pairs:
            same, detail = _same_value(key[2], e[0], c[0])
            results.append(_check_row("agree" if same else "disagree", key[2], e[0], c[0], detail))
        results += [_check_row("only_extracted", key[2], e[0], None, "") for e in ext]
        results += [_check_row("only_curated", key[2], None, c[0], "") for c in cur]
    return results


def _models_same(a: str, b: str) -> bool:
    return _norm_label(a).casefold() == _norm_label(b).casefold()  # "OLMo 7B" is not "OLMo 7B†"


def _models_equal(a: str, b: str) -> bool:
    return _match_key(a) == _match_key(b)


def _model_is_tail(a: str, b: str) -> bool:
    ta, tb = _match_key(a).split(), _match_key(b).split()
    short, long_ = sorted((ta, tb), key=len)
    return bool(short) and len(short) < len(long_) and long_[-len(short):] == short


def _columns_equal(e, c) -> bool:
    return _column_key(e[2]) == _column_key(c[2])


def _same_basis(e, c) -> bool:
    return e[0].get("basis") in (None, c[0].get("basis"))


def _check_row(status: str, metric: str, extracted: dict | None, curated: dict | None, detail: str) -> dict:
    either = extracted or curated
    return {
        "status": status,
        "source_id": either["source_id"],
        "metric": metric,
        "basis": (curated or {}).get("basis") or (extracted or {}).get("basis"),
        "model_name": (extracted or curated)["model_name"],
        "model_id": (curated or {}).get("model_id"),
        "locator_extracted": (extracted or {}).get("locator"),
        "locator_curated": (curated or {}).get("locator"),
        "value_extracted": (extracted or {}).get("value_as_printed"),
        "unit_extracted": (extracted or {}).get("unit_as_printed"),
        "value_curated": (curated or {}).get("value_as_printed"),
        "unit_curated": (curated or {}).get("unit_as_printed"),
        "detail": detail,
    }
