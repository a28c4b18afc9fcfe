// Dataset explorer: reads the release's tables from the JSON block of this page and renders the runs
// table, its filters and a detail view per model. No network access; all text goes in as textContent.
(async function () {
  "use strict";

  const PAGE_SIZE = 200;

  // A large release embeds its JSON gzipped and base64-encoded; the browser unpacks it locally.
  async function loadPayload() {
    const block = JSON.parse(document.getElementById("explorer-data").textContent);
    if (!block.gzip_base64) return block;
    const bytes = Uint8Array.from(atob(block.gzip_base64), function (c) { return c.charCodeAt(0); });
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  let payload;
  try {
    payload = await loadPayload();
  } catch (error) {
    document.getElementById("count").textContent = "This browser could not read the embedded data (" +
      error.message + "). The same tables are in the CSV and Parquet files listed under Files.";
    return;
  }
  const fields = payload.fields || {};
  const numberFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });
  // Estimates are shown to three significant digits: more would claim a precision they do not have.
  const estimateFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });

  // ---- data --------------------------------------------------------------------------------------------

  function decode(table) {
    if (!table) return null;
    const columns = table.columns;
    const arrays = columns.map(function (name) {
      const encoded = table.data[name];
      if (Array.isArray(encoded)) return encoded;
      if ("const" in encoded) return new Array(table.n).fill(encoded.const);
      return encoded.codes.map(function (code) { return encoded.dict[code]; });
    });
    const rows = [];
    for (let i = 0; i < table.n; i++) {
      const row = {};
      columns.forEach(function (name, j) { row[name] = arrays[j][i]; });
      rows.push(row);
    }
    return { columns: columns, rows: rows };
  }

  const runs = decode(payload.tables.training_runs);
  // The list shows each model and stage once: its preferred run (precedence 1); a model's page shows them all.
  const listedRuns = runs.columns.indexOf("precedence") >= 0
    ? runs.rows.filter(function (r) { return r.precedence === 1; }) : runs.rows;
  const disclosures = decode(payload.tables.disclosures);
  const sources = decode(payload.tables.sources);
  const conflicts = decode(payload.tables.conflicts); // null when the release has no conflicts table
  const models = decode(payload.tables.models); // null when the release has no models table
  const modelById = new Map(models ? models.rows.map(function (m) { return [m.model_id, m]; }) : []);

  const sourceById = new Map(sources.rows.map(function (s) { return [s.source_id, s]; }));
  const groupBy = function (rows, key) {
    const groups = new Map();
    rows.forEach(function (row) {
      if (!groups.has(row[key])) groups.set(row[key], []);
      groups.get(row[key]).push(row);
    });
    return groups;
  };
  const runsByModel = groupBy(runs.rows, "model_id");
  const disclosuresByModel = groupBy(disclosures.rows, "model_id");
  const conflictsByModel = conflicts && conflicts.columns.indexOf("model_id") >= 0
    ? groupBy(conflicts.rows, "model_id") : new Map();
  const runColumns = new Set(runs.columns);

  // ---- small helpers -----------------------------------------------------------------------------------

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(function (entry) {
      const name = entry[0], value = entry[1];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  const isMissing = function (value) { return value === null || value === undefined || value === ""; };
  const isWebUrl = function (value) { return typeof value === "string" && /^https?:\/\//i.test(value); };

  function formatNumber(value, estimated) {
    if (typeof value !== "number") return String(value);
    return (estimated ? estimateFormat : numberFormat).format(value);
  }

  function unitOf(table, column) {
    const meta = (fields[table] || {})[column];
    return meta && meta.unit && meta.unit !== "ratio" ? meta.unit : null;
  }

  const LABELS = { chip_count: "chip count", chip_hours: "chip-hours", energy_kwh: "energy", pue: "PUE",
    carbon_intensity_kg_per_kwh: "carbon intensity", emissions_tco2e: "emissions",
    market_based_emissions_tco2e: "market-based emissions", embodied_tco2e: "embodied emissions",
    estimate_low_tco2e: "estimate, 80% interval low end", estimate_high_tco2e: "estimate, 80% interval high end" };

  const withoutUnit = function (column) { return column.replace(/_(tco2e|kgco2e|kwh|mwh|kg_per_kwh|w)$/, ""); };

  // A label from a column name: its unit suffix goes (the unit is shown beside it), underscores become spaces.
  function humanize(column) {
    return LABELS[column] || withoutUnit(column).replace(/_/g, " ");
  }

  function quantity(value, unit, estimated) {
    const span = el("span", { className: "quantity", title: estimated ? String(value) : null },
      [formatNumber(value, estimated)]);
    if (unit) span.append(" ", el("span", { className: "unit", text: unit }));
    return span;
  }

  function sourceLink(url, sourceId, label, className) {
    if (!isWebUrl(url)) return el("span", { className: "muted", text: "no source link" });
    const source = sourceById.get(sourceId);
    const text = label || (source && source.title) || sourceId || url;
    return el("a", { href: url, className: className || "source-link", title: text + " — " + url,
      rel: "noopener noreferrer" }, [text]);
  }

  // A text label for where a figure comes from: "disclosed", or anything else this project supplied
  // ("estimated", "derived", a reference default...), which is styled as not disclosed.
  function badge(origin) {
    const kind = origin === "disclosed" ? "disclosed" : "estimated";
    return el("span", { className: "badge badge-" + kind, text: origin });
  }

  function modelHref(modelId, section) {
    return "#model/" + encodeURIComponent(modelId) + (section ? "/" + section : "");
  }

  // The origin column of a figure, when the release has one: emissions_tco2e -> emissions_origin,
  // energy_kwh -> energy_kwh_origin or energy_origin.
  function originColumn(column) {
    const candidates = [column + "_origin", withoutUnit(column) + "_origin"];
    return candidates.find(function (name) { return runColumns.has(name); }) || null;
  }

  function originOf(run, column) {
    const name = originColumn(column);
    return name ? run[name] : null;
  }

  const isEstimatedOrigin = function (origin) { return !isMissing(origin) && origin !== "disclosed"; };
  const isOriginColumn = function (c) { return /_origin$/.test(c); };
  const isEstimateColumn = function (c) { return /^estimate/.test(c) || /^lifecycle_/.test(c); };

  // Whether the run has anything the estimate block shows: an estimate, or a figure that was not disclosed.
  function hasEstimate(run) {
    return runs.columns.some(function (c) {
      return (isEstimateColumn(c) && !isMissing(run[c])) || (isOriginColumn(c) && isEstimatedOrigin(run[c]));
    });
  }

  function bounds(run) {
    const low = run.estimate_low_tco2e, high = run.estimate_high_tco2e;
    if (isMissing(low) && isMissing(high)) return null;
    return el("span", { className: "bounds" }, [
      "80% interval ", isMissing(low) ? "?" : formatNumber(low, true), "\u2013", isMissing(high) ? "?" : formatNumber(high, true),
      " ", el("span", { className: "unit", text: "tCO2e" }),
    ]);
  }

  function emissionsContent(run) {
    const value = run.emissions_tco2e;
    const origin = run.emissions_origin;
    if (isMissing(value)) return el("span", { className: "muted", text: "no figure" });
    const estimated = isEstimatedOrigin(origin) || (isMissing(origin) && !isMissing(run.estimate_low_tco2e));
    const parts = [estimated ? "\u2248\u00a0" : "", quantity(value, "tCO2e", estimated), " ",
      badge(estimated ? "estimated" : "disclosed")];
    if (estimated) {
      parts.push(" ", bounds(run) || el("span", { className: "bounds", text: "no range given" }));
    }
    return el("span", { className: estimated ? "figure figure-estimated" : "figure figure-disclosed" }, parts);
  }

  function figureContent(run, column, unit) {
    const value = run[column];
    if (isMissing(value)) return el("span", { className: "muted", text: "\u2014" });
    const origin = originOf(run, column);
    if (!isEstimatedOrigin(origin)) return quantity(value, unit);
    return el("span", { className: "figure figure-estimated" },
      ["\u2248\u00a0", quantity(value, unit, true), " ", badge(origin)]);
  }

  // ---- runs table --------------------------------------------------------------------------------------

  const RUN_COLUMNS = [
    { key: "model_name", label: "Model", cell: function (run) {
      return el("a", { href: modelHref(run.model_id), className: "model-link", title: run.model_id },
        [run.model_name || run.model_id]);
    } },
    { key: "organization", label: "Organization" },
    { key: "year", label: "Year", numeric: true, plain: true },
    { key: "stage", label: "Stage" },
    { key: "hardware", label: "Hardware" },
    { key: "chip_hours", label: "Chip-hours", numeric: true },
    { key: "energy_kwh", label: "Energy", numeric: true },
    { key: "emissions_tco2e", label: "Emissions", numeric: true, cell: emissionsContent },
    { key: "emissions_basis", label: "Basis" },
    { key: "source_url", label: "Source / method", sortable: false, cell: function (run) {
      const parts = [];
      if (isWebUrl(run.source_url)) parts.push(sourceLink(run.source_url, run.source_id, null, "source-link clamp"));
      if (hasEstimate(run)) {
        if (parts.length) parts.push(el("br"));
        parts.push(el("a", { href: modelHref(run.model_id, "estimate"), className: "method-link" },
          ["estimate and inputs"]));
      }
      if (!parts.length) {
        parts.push(el("a", { href: modelHref(run.model_id), className: "method-link" }, ["see disclosures"]));
      }
      return el("span", {}, parts);
    } },
  ].filter(function (column) { return column.key === "source_url" || runColumns.has(column.key); });

  RUN_COLUMNS.forEach(function (column) {
    column.unit = column.plain ? null : unitOf("training_runs", column.key);
    column.heading = column.label + (column.unit ? " (" + column.unit + ")" : "");
    if (column.sortable === undefined) column.sortable = true;
  });

  const state = { query: "", stage: "", origin: "", organization: "", sortKey: "emissions_tco2e",
    sortDirection: "descending", limit: PAGE_SIZE };

  const searchText = new Map(listedRuns.map(function (run) {
    const source = sourceById.get(run.source_id);
    const words = [run.model_name, run.model_id, run.organization, run.hardware, run.location, run.stage,
      run.emissions_basis, run.emissions_origin, run.source_id, source && source.title];
    return [run, words.filter(function (w) { return !isMissing(w); }).join(" ").toLowerCase()];
  }));

  function matches(run) {
    if (state.stage && run.stage !== state.stage) return false;
    if (state.organization && run.organization !== state.organization) return false;
    if (state.origin === "none" && !isMissing(run.emissions_tco2e)) return false;
    if (state.origin && state.origin !== "none" && run.emissions_origin !== state.origin) return false;
    const terms = state.query.toLowerCase().split(/\s+/).filter(Boolean);
    const text = searchText.get(run);
    return terms.every(function (term) { return text.indexOf(term) >= 0; });
  }

  function compare(a, b) {
    const key = state.sortKey, x = a[key], y = b[key];
    // missing values last whatever the direction
    if (isMissing(x) || isMissing(y)) {
      if (isMissing(x) && isMissing(y)) return a.run_id < b.run_id ? -1 : 1;
      return isMissing(x) ? 1 : -1;
    }
    let order = typeof x === "number" && typeof y === "number" ? x - y
      : String(x).localeCompare(String(y), "en", { sensitivity: "base", numeric: true });
    if (state.sortDirection === "descending") order = -order;
    return order || (a.run_id < b.run_id ? -1 : 1);
  }

  function renderHead() {
    const head = document.getElementById("runs-head");
    head.replaceChildren();
    RUN_COLUMNS.forEach(function (column) {
      const sorted = state.sortKey === column.key;
      const th = el("th", { scope: "col", "aria-sort": column.sortable ? (sorted ? state.sortDirection : "none") : null,
        className: column.numeric ? "numeric" : null, "data-key": column.key });
      if (column.sortable) {
        const arrow = sorted ? (state.sortDirection === "ascending" ? "\u25b2" : "\u25bc") : "\u21c5";
        const button = el("button", { type: "button", className: "sort-button", "data-key": column.key },
          [column.heading, "\u00a0", el("span", { className: "sort-arrow", "aria-hidden": "true", text: arrow })]);
        button.addEventListener("click", function () { sortBy(column.key); });
        th.append(button);
      } else {
        th.textContent = column.heading;
      }
      head.append(th);
    });
  }

  function sortBy(key, direction) {
    if (direction) state.sortDirection = direction;
    else if (state.sortKey === key) state.sortDirection = state.sortDirection === "ascending" ? "descending" : "ascending";
    else state.sortDirection = RUN_COLUMNS.find(function (c) { return c.key === key; }).numeric ? "descending" : "ascending";
    state.sortKey = key;
    syncSortSelect();
    // the header is drawn anew: keep the keyboard focus on the button that was pressed
    const focused = document.activeElement && document.activeElement.classList.contains("sort-button");
    render();
    if (focused) document.querySelector('.sort-button[data-key="' + key + '"]').focus();
  }

  function rowFor(run) {
    const estimated = isEstimatedOrigin(run.emissions_origin);
    const tr = el("tr", { className: estimated ? "run-estimated" : null, "data-run-id": run.run_id });
    RUN_COLUMNS.forEach(function (column) {
      let content;
      if (column.cell) content = column.cell(run);
      else if (isMissing(run[column.key])) content = el("span", { className: "muted", text: "\u2014" });
      else if (column.plain) content = String(run[column.key]);
      else if (column.numeric) content = figureContent(run, column.key, null); // the unit is in the header
      else content = String(run[column.key]);
      const classes = [column.numeric ? "numeric" : "", isMissing(run[column.key]) && !column.cell ? "empty" : ""];
      const cell = el(column.key === "model_name" ? "th" : "td",
        { "data-label": column.heading, className: classes.join(" ").trim() || null,
          scope: column.key === "model_name" ? "row" : null }, [content]);
      tr.append(cell);
    });
    return tr;
  }

  function render() {
    renderHead();
    const shown = listedRuns.filter(matches).sort(compare);
    const body = document.getElementById("runs-body");
    body.replaceChildren.apply(body, shown.slice(0, state.limit).map(rowFor));
    const count = document.getElementById("count");
    count.textContent = "Showing " + Math.min(shown.length, state.limit) + " of " + shown.length +
      " matching runs (" + listedRuns.length + " model-stage headlines in this release).";
    count.setAttribute("data-matching", String(shown.length));
    const more = document.getElementById("show-more");
    const rest = shown.length - state.limit;
    more.hidden = rest <= 0;
    more.textContent = rest > 0 ? "Show " + Math.min(rest, PAGE_SIZE) + " more of " + rest + " remaining" : "";
  }

  function fillSelect(id, values) {
    const select = document.getElementById(id);
    values.forEach(function (value) { select.append(el("option", { value: value, text: value })); });
  }

  function distinct(column) {
    return Array.from(new Set(listedRuns.map(function (r) { return r[column]; }).filter(function (v) {
      return !isMissing(v);
    }))).sort(function (a, b) { return String(a).localeCompare(String(b)); });
  }

  function syncSortSelect() {
    document.getElementById("sort-select").value = state.sortKey + ":" + state.sortDirection;
  }

  function setUpControls() {
    fillSelect("filter-stage", distinct("stage"));
    fillSelect("filter-organization", distinct("organization"));
    const sortSelect = document.getElementById("sort-select");
    RUN_COLUMNS.filter(function (c) { return c.sortable; }).forEach(function (column) {
      ["ascending", "descending"].forEach(function (direction) {
        sortSelect.append(el("option", { value: column.key + ":" + direction,
          text: column.heading + (direction === "ascending" ? ", ascending" : ", descending") }));
      });
    });
    syncSortSelect();
    sortSelect.addEventListener("change", function () {
      const parts = sortSelect.value.split(":");
      sortBy(parts[0], parts[1]);
    });
    const bind = function (id, key) {
      const input = document.getElementById(id);
      const update = function () {
        if (state[key] === input.value) return;
        state[key] = input.value;
        state.limit = PAGE_SIZE;
        render();
      };
      input.addEventListener("input", update);
      input.addEventListener("change", update); // some ways of picking an option send only "change"
    };
    bind("search", "query");
    bind("filter-stage", "stage");
    bind("filter-origin", "origin");
    bind("filter-organization", "organization");
    const form = document.getElementById("filters");
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("reset", function () {
      Object.assign(state, { query: "", stage: "", origin: "", organization: "", limit: PAGE_SIZE });
      window.setTimeout(function () { syncSortSelect(); render(); }, 0); // after the form has reset
    });
    document.getElementById("show-more").addEventListener("click", function () {
      state.limit += PAGE_SIZE;
      render();
    });
  }

  function renderSummary() {
    const count = function (origin) {
      return listedRuns.filter(function (r) { return r.emissions_origin === origin; }).length;
    };
    const models = new Set(listedRuns.map(function (r) { return r.model_id; })).size;
    document.getElementById("summary").textContent = listedRuns.length + " runs of " + models + " models: " +
      count("disclosed") + " with disclosed emissions, " + count("estimated") + " with estimated emissions. " +
      disclosures.rows.length + " disclosed figures from " + sources.rows.length + " source documents.";
  }

  // ---- detail view -------------------------------------------------------------------------------------

  // Columns a run card does not list as figures: identity, provenance, and what the estimate block shows.
  const CARD_SKIP = new Set(["run_id", "model_id", "model_name", "organization", "stage", "year",
    "emissions_basis", "emissions_origin", "is_restatement", "source_id", "source_url", "is_headline",
    "headline_reason", "precedence"]);
  function definitionList(items) {
    const dl = el("dl", { className: "facts" });
    items.forEach(function (item) {
      dl.append(el("div", {}, [el("dt", { text: item[0] }), el("dd", {}, [item[1]])]));
    });
    return dl;
  }

  function labelWithUnit(column) {
    const unit = unitOf("training_runs", column);
    return humanize(column) + (unit ? " (" + unit + ")" : "");
  }

  function runCard(run) {
    const items = [];
    runs.columns.filter(function (c) {
      return !CARD_SKIP.has(c) && !isOriginColumn(c) && !isEstimateColumn(c) && !isMissing(run[c]);
    }).forEach(function (column) {
      if (column === "emissions_tco2e") {
        const basis = isMissing(run.emissions_basis) ? "" : ", " + run.emissions_basis;
        items.push(["emissions (tCO2e" + basis + ")", emissionsContent(run)]);
      } else if (typeof run[column] === "number" && !/(^|_)year$/.test(column)) {
        items.push([labelWithUnit(column), figureContent(run, column, unitOf("training_runs", column))]);
      } else {
        items.push([labelWithUnit(column), document.createTextNode(String(run[column]))]);
      }
    });
    if (isMissing(run.emissions_tco2e)) items.push(["emissions (tCO2e)", emissionsContent(run)]);
    items.push(["headline source", el("span", {}, [
      sourceLink(run.source_url, run.source_id),
      run.is_restatement ? el("span", { className: "badge badge-flag", text: "restatement" }) : null,
    ])]);
    const heading = el("h4", {}, [run.stage, run.is_headline
      ? el("span", { className: "badge badge-headline", text: "headline" }) : null]);
    const why = isMissing(run.headline_reason) ? null
      : el("p", { className: "headline-reason" + (run.is_headline ? "" : " muted"),
        text: (run.is_headline ? "Why this is the headline: " : "Why not the headline: ") + run.headline_reason });
    return el("article", { className: "run-card" + (isEstimatedOrigin(run.emissions_origin) ? " run-estimated" : "")
      + (run.is_headline === false ? " run-other" : ""), "aria-label": "Run: " + run.stage,
      "data-run-id": run.run_id }, [heading, why, definitionList(items)]);
  }

  // The figure an origin column speaks for: emissions_origin -> emissions_tco2e, energy_origin -> energy_kwh.
  function figureOf(originName) {
    return runs.columns.find(function (name) { return name !== originName && originColumn(name) === originName; })
      || null;
  }

  // Estimates (method, values, bounds) and the origin of every figure of a run: whatever columns the release has.
  function estimateBlock(run) {
    const estimateRows = runs.columns.filter(function (c) { return isEstimateColumn(c) && !isMissing(run[c]); });
    const originRows = runs.columns.filter(function (c) { return isOriginColumn(c) && !isMissing(run[c]); });
    if (!hasEstimate(run)) return null;
    const block = el("div", { className: "estimate-block" }, [el("h4", { text: run.stage })]);
    if (estimateRows.length) {
      block.append(definitionList(estimateRows.map(function (c) {
        const unit = unitOf("training_runs", c);
        return [labelWithUnit(c), typeof run[c] === "number"
          ? el("span", { className: "figure figure-estimated" }, ["\u2248\u00a0", quantity(run[c], unit, true), " ",
            badge("estimated")])
          : document.createTextNode(String(run[c]))];
      })));
    }
    if (!runs.columns.some(function (c) { return /^estimate_method/.test(c) && !isMissing(run[c]); })) {
      block.append(el("p", { className: "muted", text: "This release records no method for this estimate." }));
    }
    if (originRows.length) {
      const table = el("table", { className: "data-table inputs-table" }, [
        el("caption", { text: "Where each figure of this run comes from" }),
        el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: "Figure" }),
          el("th", { scope: "col", text: "Value" }), el("th", { scope: "col", text: "Origin" })])]),
      ]);
      const body = el("tbody");
      originRows.forEach(function (c) {
        const base = figureOf(c);
        const unit = base ? unitOf("training_runs", base) : null;
        const estimated = isEstimatedOrigin(run[c]);
        let value = base && !isMissing(run[base])
          ? (typeof run[base] === "number" ? quantity(run[base], unit, estimated)
            : document.createTextNode(String(run[base])))
          : el("span", { className: "muted", text: "\u2014" });
        if (estimated && base && !isMissing(run[base])) {
          value = el("span", { className: "figure figure-estimated" }, ["\u2248\u00a0", value]);
        }
        body.append(el("tr", { className: estimated ? "row-estimated" : null }, [
          el("th", { scope: "row", text: humanize(base || c.replace(/_origin$/, "")) }),
          el("td", { "data-label": "Value" }, [value]),
          el("td", { "data-label": "Origin" }, [badge(String(run[c]))]),
        ]));
      });
      table.append(body);
      block.append(el("div", { className: "table-scroll" }, [table]));
    }
    return block;
  }

  function disclosureNotes(d) {
    const notes = [];
    if (d.is_superseded) notes.push(el("span", { className: "badge badge-flag",
      text: "superseded" + (isMissing(d.superseded_on) ? "" : " on " + d.superseded_on) }));
    if (d.is_restatement) notes.push(el("span", { className: "badge badge-flag", text: "restatement" }));
    if (!isMissing(d.value_qualifier)) notes.push(el("span", { className: "note", text: d.value_qualifier.replace(/_/g, " ") }));
    if (!isMissing(d.functional_unit)) notes.push(el("span", { className: "note", text: "per " + d.functional_unit }));
    if (!isMissing(d.component)) notes.push(el("span", { className: "note", text: "component: " + d.component }));
    [["is_pue_included", "PUE"], ["is_idle_included", "idle"], ["is_embodied_included", "embodied"]]
      .forEach(function (flag) {
        if (d[flag[0]] === true) notes.push(el("span", { className: "note", text: flag[1] + " included" }));
        if (d[flag[0]] === false) notes.push(el("span", { className: "note", text: flag[1] + " excluded" }));
      });
    if (!isMissing(d.hardware)) notes.push(el("span", { className: "note", text: "hardware: " + d.hardware }));
    if (!isMissing(d.location)) notes.push(el("span", { className: "note", text: "location: " + d.location }));
    if (!isMissing(d.note)) notes.push(el("span", { className: "note", text: "note: " + d.note }));
    if (!isMissing(d.extraction_method)) notes.push(el("span", { className: "note", text: "read by: " + d.extraction_method }));
    return notes;
  }

  function disclosuresTable(rows) {
    const headings = ["Stage", "Metric", "Basis", "Value (normalized)", "As printed", "Where in the source",
      "Notes", "Source"];
    const table = el("table", { className: "data-table disclosures-table", id: "disclosures-table" }, [
      el("caption", { className: "visually-hidden", text: "Every figure published about this model" }),
      el("thead", {}, [el("tr", {}, headings.map(function (h) { return el("th", { scope: "col", text: h }); }))]),
    ]);
    const body = el("tbody");
    rows.slice().sort(function (a, b) {
      return (a.is_superseded === b.is_superseded ? 0 : a.is_superseded ? 1 : -1) ||
        String(a.stage).localeCompare(String(b.stage)) || String(a.metric).localeCompare(String(b.metric)) ||
        String(a.source_id).localeCompare(String(b.source_id)) || String(a.locator).localeCompare(String(b.locator));
    }).forEach(function (d) {
      const printed = el("span", { className: "as-printed" }, [
        el("q", { text: d.value_as_printed }), " ",
        isMissing(d.unit_as_printed) ? el("span", { className: "muted", text: "(no unit printed)" })
          : el("span", { className: "unit", text: d.unit_as_printed }),
      ]);
      const cells = [
        document.createTextNode(String(d.stage)), document.createTextNode(String(d.metric)),
        isMissing(d.basis) ? el("span", { className: "muted", text: "\u2014" }) : document.createTextNode(d.basis),
        quantity(d.value, d.unit), printed, document.createTextNode(String(d.locator)),
        el("span", { className: "notes" }, disclosureNotes(d)), sourceLink(d.source_url, d.source_id),
      ];
      body.append(el("tr", { className: d.is_superseded ? "row-superseded" : null,
        "data-disclosure-id": d.disclosure_id || null }, cells.map(function (content, i) {
        return el("td", { "data-label": headings[i] }, [content]);
      })));
    });
    table.append(body);
    return el("div", { className: "table-scroll" }, [table]);
  }

  function conflictSide(c, side) {
    const get = function (name) { return c[name + "_" + side]; };
    return el("div", { className: "conflict-side" }, [
      el("p", {}, [quantity(get("value"), c.unit),
        isMissing(get("basis")) ? "" : " (" + get("basis") + ")",
        get("is_restatement") ? el("span", { className: "badge badge-flag", text: "restatement" }) : null]),
      el("p", {}, ["printed: ", el("q", { text: String(get("value_as_printed")) }), " ",
        el("span", { className: "unit", text: isMissing(get("unit_as_printed")) ? "(no unit printed)" : get("unit_as_printed") })]),
      el("p", {}, ["where: ", String(get("locator"))]),
      el("p", {}, [sourceLink(get("source_url"), get("source_id"))]),
    ]);
  }

  function genericFacts(row, skip) {
    return definitionList(Object.keys(row).filter(function (k) {
      return skip.indexOf(k) < 0 && !isMissing(row[k]);
    }).map(function (k) {
      const value = row[k];
      const unit = unitOf("conflicts", k);
      return [humanize(k), isWebUrl(value) ? el("a", { href: value, rel: "noopener noreferrer" }, [value])
        : typeof value === "number" ? quantity(value, unit) : document.createTextNode(String(value))];
    }));
  }

  function conflictsBlock(modelId) {
    if (!conflicts) return el("p", { className: "muted", text: "This release has no conflicts table." });
    const rows = conflictsByModel.get(modelId) || [];
    if (!rows.length) return el("p", { className: "muted", text: "No conflicting figures recorded for this model." });
    const paired = ["value_a", "value_b", "source_url_a", "source_url_b"].every(function (c) {
      return conflicts.columns.indexOf(c) >= 0;
    });
    const list = el("ul", { className: "conflicts" });
    rows.forEach(function (c) {
      const title = [c.metric, c.stage, c.conflict_kind].filter(function (v) { return !isMissing(v); }).join(", ");
      const item = el("li", { className: "conflict" }, [el("h4", { text: title || "conflict" })]);
      if (paired) {
        if (!isMissing(c.ratio)) item.append(el("p", { text: "The larger figure is " + formatNumber(c.ratio) + " times the smaller." }));
        const context = [c.functional_unit ? "per " + c.functional_unit : null,
          c.component ? "component: " + c.component : null].filter(Boolean).join("; ");
        if (context) item.append(el("p", { className: "muted", text: context }));
        item.append(el("div", { className: "conflict-sides" }, [conflictSide(c, "a"), conflictSide(c, "b")]));
      } else {
        item.append(genericFacts(c, ["model_id"]));
      }
      list.append(item);
    });
    return list;
  }

  function sourcesBlock(modelId, modelRuns, modelDisclosures) {
    const ids = new Set();
    modelRuns.concat(modelDisclosures).forEach(function (r) { if (!isMissing(r.source_id)) ids.add(r.source_id); });
    const list = el("ul", { className: "sources" });
    Array.from(ids).sort().forEach(function (id) {
      const s = sourceById.get(id);
      if (!s) { list.append(el("li", { text: id + " (not in the sources table)" })); return; }
      const details = [s.organization, s.kind, s.published_date].filter(function (v) { return !isMissing(v); });
      list.append(el("li", {}, [sourceLink(s.url, id, s.title), details.length ? " \u2014 " + details.join(", ") : "",
        isMissing(s.license) ? "" : "; license: " + s.license]));
    });
    return ids.size ? list : el("p", { className: "muted", text: "No sources recorded." });
  }

  // The model's headline training figure: the value, who published it, what it covers, and why it was chosen.
  function headlineSummary(info) {
    const box = el("div", { className: "headline-summary", id: "headline-summary" });
    if (isMissing(info.training_tco2e)) {
      box.append(el("p", { className: "muted", text: "No pretraining emissions figure or estimate for this model." }));
    } else {
      const estimated = info.training_origin === "estimated";
      box.append(el("p", {}, [el("strong", { text: "Training emissions (headline): " }),
        estimated ? el("span", { className: "figure figure-estimated" }, ["\u2248\u00a0",
          quantity(info.training_tco2e, "tCO2e", true), " ", badge("estimated")]) : quantity(info.training_tco2e, "tCO2e"),
        isMissing(info.training_low_tco2e) ? "" : " (" + formatNumber(info.training_low_tco2e) + "\u2013"
          + formatNumber(info.training_high_tco2e) + ")",
        " \u00b7 " + [info.training_disclosure_type, info.training_boundary, info.training_basis]
          .filter(function (v) { return !isMissing(v); }).join(", "), " \u00b7 ",
        sourceLink(info.training_source_url, info.training_source_id)]));
      if (!isMissing(info.training_model_id) && info.training_model_id !== info.model_id) {
        box.append(el("p", { className: "muted", text: "The pretraining of its base model, " + info.training_model_id + "." }));
      }
      if (!isMissing(info.training_headline_reason)) {
        box.append(el("p", { className: "headline-reason", text: "Why this figure: " + info.training_headline_reason }));
      }
    }
    [["lifecycle_tco2e", "Life cycle (published)", "lifecycle_boundary"], ["total_tco2e", "Several stages (published)",
      "total_boundary"], ["development_tco2e", "Development (published)", null]].forEach(function (item) {
      if (!isMissing(info[item[0]])) {
        box.append(el("p", {}, [item[1] + ": ", quantity(info[item[0]], "tCO2e"),
          item[2] && !isMissing(info[item[2]]) ? " (" + info[item[2]] + ")" : ""]));
      }
    });
    return box;
  }

  function renderDetail(modelId, section) {
    const modelRuns = runsByModel.get(modelId) || [];
    const modelDisclosures = disclosuresByModel.get(modelId) || [];
    const title = document.getElementById("detail-title");
    const body = document.getElementById("detail-body");
    body.replaceChildren();
    if (!modelRuns.length && !modelDisclosures.length) {
      title.textContent = "Unknown model";
      body.append(el("p", { text: "This release has no model with the id " + modelId + "." }));
      return;
    }
    const first = modelRuns[0] || modelDisclosures[0];
    const info = modelById.get(modelId);
    const name = (info && info.model_name) || first.model_name || modelId;
    title.textContent = name;
    document.title = name + " \u2014 AI emissions disclosures";
    body.append(el("p", { className: "model-meta" }, [
      el("code", { text: modelId }), " \u00b7 " + ((info && info.organization) || first.organization
        || "organization unknown"), isMissing(first.year) ? "" : " \u00b7 " + first.year,
    ]));
    if (info) body.append(headlineSummary(info));

    body.append(el("h3", { id: "detail-runs", text: "Runs by stage, the headline first" }));
    const cards = el("div", { className: "run-cards" });
    modelRuns.slice().sort(function (a, b) {
      return String(a.stage).localeCompare(String(b.stage)) || (a.precedence || 0) - (b.precedence || 0);
    }).forEach(function (run) { cards.append(runCard(run)); });
    body.append(modelRuns.length ? cards : el("p", { className: "muted", text: "No run of this model is in the runs table." }));

    const estimates = modelRuns.map(estimateBlock).filter(Boolean);
    if (estimates.length) {
      body.append(el("h3", { id: "detail-estimate", tabindex: "-1", text: "Estimate: method and inputs" }));
      estimates.forEach(function (block) { body.append(block); });
    }

    body.append(el("h3", { id: "detail-disclosures", text: "Disclosures (" + modelDisclosures.length + ")" }));
    body.append(modelDisclosures.length ? disclosuresTable(modelDisclosures)
      : el("p", { className: "muted", text: "No figure about this model was disclosed." }));

    body.append(el("h3", { id: "detail-conflicts", text: "Conflicts" }));
    body.append(conflictsBlock(modelId));

    body.append(el("h3", { id: "detail-sources", text: "Sources" }));
    body.append(sourcesBlock(modelId, modelRuns, modelDisclosures));

    const target = section === "estimate" && document.getElementById("detail-estimate");
    return target || title;
  }

  // ---- routing: #model/<id>[/estimate] opens a model, anything else the list -------------------------

  const defaultTitle = document.title;
  let listScroll = 0;

  function route() {
    const match = /^#model\/([^/]*)(?:\/(\w+))?$/.exec(window.location.hash);
    const list = document.getElementById("list-view");
    const detail = document.getElementById("detail-view");
    if (match) {
      if (!list.hidden) listScroll = window.scrollY;
      let modelId;
      try { modelId = decodeURIComponent(match[1]); } catch (error) { modelId = match[1]; }
      const focusTarget = renderDetail(modelId, match[2]) || document.getElementById("detail-title");
      list.hidden = true;
      detail.hidden = false;
      focusTarget.focus();
      focusTarget.scrollIntoView({ block: "start" });
    } else {
      const wasDetail = !detail.hidden;
      detail.hidden = true;
      list.hidden = false;
      document.title = defaultTitle;
      const anchor = window.location.hash.length > 1 && document.getElementById(window.location.hash.slice(1));
      if (anchor) {
        anchor.scrollIntoView({ block: "start" });
        if (anchor.hasAttribute("tabindex")) anchor.focus({ preventScroll: true });
      } else if (wasDetail) {
        document.getElementById("runs-heading").focus({ preventScroll: true });
        window.scrollTo(0, listScroll);
      }
    }
  }

  setUpControls();
  renderSummary();
  render();
  window.addEventListener("hashchange", route);
  route();
  document.documentElement.setAttribute("data-explorer-ready", "true");
})();
