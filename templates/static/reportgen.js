/* reportgen page behaviour: charts, tables, search, η selector, theme. Plain JS, no network. */
(function () {
  "use strict";

  var THEME_KEY = "reportgen-theme";
  var DARK_BACKGROUND = "#121212";  /* --bg of the dark theme in site.css */

  /* ---- theme ------------------------------------------------------------------------- */
  function storedTheme() {
    try { return window.localStorage.getItem(THEME_KEY) || "auto"; } catch (e) { return "auto"; }
  }
  function effectiveDark() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t === "dark") { return true; }
    if (t === "light") { return false; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  function applyTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.textContent = "◐ Theme: " + theme;
      button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
    }
  }
  function setupTheme() {
    applyTheme(storedTheme());
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var order = ["auto", "light", "dark"];
      var next = order[(order.indexOf(storedTheme()) + 1) % order.length];
      try { window.localStorage.setItem(THEME_KEY, next); } catch (e) { /* private mode */ }
      applyTheme(next);
      renderCharts();
    });
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) { query.addEventListener("change", renderCharts); }
    }
  }

  /* ---- charts ------------------------------------------------------------------------ */
  var pageData = null;
  function readPageData() {
    if (pageData !== null) { return pageData; }
    var node = document.getElementById("page-data");
    pageData = node ? JSON.parse(node.textContent) : { datasets: {} };
    return pageData;
  }
  function usedDatasets(spec, found) {
    if (spec && typeof spec === "object") {
      if (spec.data && typeof spec.data.name === "string") { found[spec.data.name] = true; }
      Object.keys(spec).forEach(function (key) {
        if (key !== "datasets") { usedDatasets(spec[key], found); }
      });
    }
    return found;
  }
  function currentEta() {
    var select = document.getElementById("eta-select");
    return select ? select.value : null;
  }
  /* Small multiples have fixed cells (Vega-Lite cannot fit a facet to its container): the
     cells are sized to the figure, as many to a row as fit at 1.5× their spec's width (one on a
     phone) and no more than there are panels, each at most FACET_CELL_MAX wide, taller in
     proportion (up to 1.6×). */
  var FACET_AXIS_PX = 90;  /* the y axis left of each row */
  var FACET_GAP_PX = 30;  /* between cells, and the padding right of the last */
  var FACET_CELL_MAX = 280;
  function facetPanels(spec, datasets) {
    var field = spec.facet && spec.facet.field;
    var blocks = spec.data && datasets[spec.data.name];
    if (typeof field !== "string" || !blocks) { return 0; }
    var seen = {};
    blocks.forEach(function (block) {
      (Array.isArray(block[field]) ? block[field] : []).forEach(function (v) { seen[v] = true; });
    });
    return Object.keys(seen).length;
  }
  function facetLayout(spec, datasets, room) {
    if (!spec.facet || !spec.spec || !spec.columns) { return null; }
    var cell = spec.spec.width, height = spec.spec.height;
    if (typeof cell !== "number" || typeof height !== "number") { return null; }
    var panels = facetPanels(spec, datasets) || spec.columns;
    var space = room - FACET_AXIS_PX;
    var columns = Math.max(1, Math.min(panels, Math.floor(space / (1.5 * cell + FACET_GAP_PX))));
    var width = Math.max(160, Math.min(FACET_CELL_MAX, Math.floor(space / columns) - FACET_GAP_PX));
    return {
      columns: columns,
      rows: Math.ceil(panels / columns),
      width: width,
      height: Math.round(height * Math.min(1.6, Math.max(1, width / cell)))
    };
  }
  function fitFacets(spec, figure) {
    var layout = figure && facetLayout(spec, spec.datasets, figure.clientWidth - 24);
    if (!layout) { return; }
    spec.columns = layout.columns;
    spec.spec.width = layout.width;
    spec.spec.height = layout.height;
  }
  function chartSpec(node) {
    var spec = JSON.parse(node.textContent);
    var datasets = readPageData().datasets || {};
    spec.datasets = {};
    Object.keys(usedDatasets(spec, {})).forEach(function (name) {
      spec.datasets[name] = datasets[name] || [];
    });
    fitFacets(spec, node.closest("figure"));
    var eta = currentEta();
    (spec.params || []).forEach(function (param) {
      if (param.name === "eta" && eta !== null) { param.value = Number(eta); }
    });
    return spec;
  }
  function csvFromDataset(rows) {
    // Datasets are columnar: [{col: [..], ...}] → one CSV row per index.
    if (!rows.length) { return ""; }
    var columns = Object.keys(rows[0]);
    var lines = [columns.join(",")];
    rows.forEach(function (block) {
      var n = Array.isArray(block[columns[0]]) ? block[columns[0]].length : 1;
      for (var i = 0; i < n; i += 1) {
        lines.push(columns.map(function (c) {
          var v = Array.isArray(block[c]) ? block[c][i] : block[c];
          if (v === null || v === undefined) { return ""; }
          var s = String(v);
          // text a spreadsheet would evaluate as a formula is kept as text (csvcells.py)
          if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) { s = "'" + s; }
          return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
        }).join(","));
      }
    });
    return lines.join("\n") + "\n";
  }
  function addCsvLink(figure, spec) {
    if (figure.querySelector(".csv-download")) { return; }
    var names = Object.keys(spec.datasets || {});
    if (!names.length) { return; }
    var link = document.createElement("a");
    link.className = "csv-download";
    link.textContent = "Data (CSV)";
    // Per-sequence charts may show a downsample; their CSV is the run's full contributions.csv,
    // except in a single-file report, which carries no sibling files.
    var full = document.documentElement.hasAttribute("data-single-file") ? null : figure.getAttribute("data-csv");
    if (full) {
      link.href = full;
    } else {
      var csv = csvFromDataset(spec.datasets[names.indexOf("per-seq") >= 0 ? "per-seq" : names[0]]);
      link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv);
      link.download = (figure.id || "chart").replace(/^chart-/, "") + ".csv";
    }
    figure.querySelector("figcaption").appendChild(link);
  }
  function setupExportLinks(menu, view) {
    // vega-embed fills an export link's href on mousedown, which keyboard activation and quick
    // synthetic clicks never send: render the image first, then follow the link.
    menu.querySelectorAll(".vega-actions a[download]").forEach(function (link) {
      var ext = /\.(svg|png)$/.exec(link.getAttribute("download") || "");
      if (!ext) { return; }
      link.removeAttribute("target");
      link.addEventListener("click", function (event) {
        if (link.getAttribute("data-export-ready") === "true") {
          link.removeAttribute("data-export-ready");
          var menu = link.closest("details");
          if (menu) { menu.removeAttribute("open"); }
          return;
        }
        event.preventDefault();
        // An opaque background, so the picture reads anywhere (the page's is transparent); it
        // matches the page, so the view redrawing with it meanwhile shows no change.
        var background = view.background();
        view.background(effectiveDark() ? DARK_BACKGROUND : "#ffffff");
        view.toImageURL(ext[1], ext[1] === "png" ? 2 : 1).then(function (url) {
          view.background(background).runAsync();
          link.href = url;
          link.setAttribute("data-export-ready", "true");
          // Not from inside this click's dispatch: a nested click() on the link is ignored.
          window.setTimeout(function () { link.click(); }, 0);
        }).catch(function (error) {
          view.background(background).runAsync();
          if (window.console) { window.console.error("reportgen: export failed: " + error); }
        });
      });
    });
  }
  /* vega-embed's export menu ("•••") moves from over the chart, where a long title ran under
     it, to the caption's row beside "Data (CSV)". */
  function setupActionsMenu(target, view) {
    var menu = target.querySelector("details");
    if (!menu) { return; }
    menu.classList.add("chart-actions");
    setupExportLinks(menu, view);
    target.closest("figure").querySelector("figcaption").appendChild(menu);
    var summary = menu.querySelector("summary");
    summary.setAttribute("aria-label", "Export this chart");
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.removeAttribute("open");
        summary.focus();
      }
    });
  }
  /* Charts are drawn when they come near the screen, one screen ahead of it (a long page draws
     what is on screen first), all at once before printing, with ?all or #all in the address,
     or from the "Draw all charts" button. Until then each holds a placeholder of about its drawn
     height, so the page does not jump as charts arrive. */
  var drawn = [];  /* {figure, result} of every chart on screen */
  var observer = null;
  function drawChart(figure) {
    var target = figure.querySelector(".chart-view");
    var node = figure.querySelector("script.chart-spec");
    if (!node || typeof window.vegaEmbed !== "function") { return; }
    if (observer) { observer.unobserve(figure); }
    var current = (figure.drawGeneration || 0) + 1;
    figure.drawGeneration = current;
    target.setAttribute("data-drawing", "true");
    var dark = effectiveDark();
    var spec;
    try {
      spec = chartSpec(node);
    } catch (e) {
      target.textContent = "Chart data could not be read.";
      target.setAttribute("data-rendered", "error");
      target.removeAttribute("data-drawing");
      return;
    }
    var options = {
      renderer: "svg",
      ast: true,
      defaultStyle: false,
      forceActionsMenu: true,
      scaleFactor: { png: 2 },
      tooltip: { disableDefaultStyle: true },
      theme: dark ? "dark" : undefined,
      actions: { export: true, source: false, compiled: false, editor: false },
      downloadFileName: (figure.id || "chart").replace(/^chart-/, "")
    };
    window.vegaEmbed(target, spec, options).then(function (result) {
      if (current !== figure.drawGeneration) { result.finalize(); return; }  // drawn again since
      drawn.push({ figure: figure, result: result });
      addCsvLink(figure, spec);
      setupActionsMenu(target, result.view);
      target.style.minHeight = "";
      target.removeAttribute("data-drawing");
      target.setAttribute("data-rendered", dark ? "dark" : "light");
      figure.classList.add("is-drawn");
      figure.classList.toggle("title-clipped", titleClipped(target));
      updateDrawAll();
    }).catch(function (error) {
      target.textContent = "Chart could not be drawn: " + error;
      target.removeAttribute("data-drawing");
      target.setAttribute("data-rendered", "error");
      if (window.console) { window.console.error("reportgen: chart " + figure.id + ": " + error); }
    });
  }
  // A chart title wider than a narrow screen's chart is cut by the SVG, or elided by its limit:
  // the caption's own title, which wraps, is shown instead (exports keep the chart's title).
  function titleClipped(target) {
    var title = target.querySelector("svg .role-title-text text");
    if (!title) { return false; }
    var box = target.getBoundingClientRect(), text = title.getBoundingClientRect();
    var elided = /\u2026$/.test(title.textContent);
    return elided || text.left < box.left - 1 || text.right > box.right + 1;
  }
  function pendingCharts() {
    return Array.prototype.filter.call(document.querySelectorAll("figure.chart"), function (figure) {
      var target = figure.querySelector(".chart-view");
      return !target.hasAttribute("data-rendered") && !target.hasAttribute("data-drawing");
    });
  }
  function drawAll() { pendingCharts().forEach(drawChart); }
  /* The theme changed: the charts on screen are drawn again in its colours. */
  function renderCharts() {
    var again = drawn;
    drawn = [];
    again.forEach(function (entry) {
      entry.result.finalize();
      var menu = entry.figure.querySelector("details.chart-actions");
      if (menu) { menu.parentNode.removeChild(menu); }
      entry.figure.querySelector(".chart-view").removeAttribute("data-rendered");
      drawChart(entry.figure);
    });
  }
  /* About the height the chart will take once drawn: its plot, plus title, axes and legend
     (small multiples: each row of cells as ``fitFacets`` will lay them out). */
  var CHART_CHROME_PX = 100;
  var FACET_ROW_PX = 50;  /* a row's panel header and x axis */
  function placeholderHeight(node, figure) {
    try {
      var spec = JSON.parse(node.textContent);
      var layout = facetLayout(spec, readPageData().datasets || {}, figure.clientWidth - 24);
      if (layout) { return layout.rows * (layout.height + FACET_ROW_PX) + CHART_CHROME_PX; }
      return (typeof spec.height === "number" ? spec.height : 280) + CHART_CHROME_PX;
    } catch (e) {
      return 0;
    }
  }
  function updateDrawAll() {
    var button = document.getElementById("draw-all");
    if (!button) { return; }
    var left = pendingCharts().length;
    button.disabled = left === 0;
    button.textContent = left ? "Draw all charts" : "All charts drawn";
  }
  function wantsAll() {
    return /(^|[?&])all([=&]|$)/.test(window.location.search.slice(1)) || window.location.hash === "#all";
  }
  function setupCharts() {
    var figures = document.querySelectorAll("figure.chart");
    if (!figures.length || typeof window.vegaEmbed !== "function") { return; }
    figures.forEach(function (figure) {
      var target = figure.querySelector(".chart-view");
      var height = placeholderHeight(figure.querySelector("script.chart-spec"), figure);
      if (height) { target.style.minHeight = height + "px"; }
    });
    var button = document.getElementById("draw-all");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", drawAll);
    }
    window.addEventListener("beforeprint", drawAll);
    if (window.matchMedia) {
      var print = window.matchMedia("print");
      if (print.addEventListener) {
        print.addEventListener("change", function (event) { if (event.matches) { drawAll(); } });
      }
    }
    if (wantsAll() || typeof window.IntersectionObserver !== "function") {
      drawAll();
      return;
    }
    observer = new window.IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { drawChart(entry.target); }
      });
    }, { rootMargin: "100% 0px 100% 0px" });
    figures.forEach(function (figure) { observer.observe(figure); });
    updateDrawAll();
  }

  /* ---- tables ------------------------------------------------------------------------ */
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? NaN : ""; }
    var raw = cell.getAttribute("data-value") || cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    // the one formatter writes U+2212 (also in exponents) and "(m ± s)eN" for a value with its SE
    var text = raw.replace(/,/g, "").replace(/\u2212/g, "-").replace(" %", "");
    var withSe = /^\(([^ ]+) ± [^)]+\)(e-?\d+)$/.exec(text);
    var value = parseFloat(withSe ? withSe[1] + withSe[2] : text);
    return isNaN(value) ? -Infinity : value;
  }
  function sortTable(table, index, header) {
    var numeric = header.getAttribute("data-sort") === "num";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = table.allRows ? table.allRows.slice() : Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    if (table.allRows) {
      table.allRows = rows;
      applyRowVisibility(table);
      return;
    }
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function setupSorting() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      if (!table.tHead || table.hasAttribute("data-rows")) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
        header.tabIndex = 0;
        header.classList.add("sort-header");
        header.setAttribute("title", "Sort by this column");
        var activate = function () { sortTable(table, index, header); };
        header.addEventListener("click", activate);
        header.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
        });
      });
    });
  }
  function hasWord(list, word) {
    return (" " + (list || "") + " ").indexOf(" " + word + " ") !== -1;
  }
  function applyRowVisibility(table) {
    var filter = table.getAttribute("data-filter") || "";
    var eta = table.classList.contains("eta-rows") ? currentEta() : null;
    var terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    var matching = [];
    Array.prototype.forEach.call(table.allRows || table.tBodies[0].rows, function (row) {
      var text = (row.textContent + " " + (row.getAttribute("data-search") || "")).toLowerCase();
      var matches = terms.every(function (t) { return text.indexOf(t) !== -1; });
      var rowEta = row.getAttribute("data-eta");
      if (eta !== null && rowEta !== null && Number(rowEta) !== Number(eta)) { matches = false; }
      var severity = table.getAttribute("data-severity");
      if (severity && !hasWord(row.getAttribute("data-severities"), severity)) { matches = false; }
      var check = table.getAttribute("data-check-filter");
      if (check && !hasWord(row.getAttribute("data-checks"), check)) { matches = false; }
      row.hidden = !matches;
      if (matches) { shown += 1; matching.push(row); }
    });
    table.setAttribute("data-shown", String(shown));
    if (table.allRows) {
      table.shownRows = matching;
      table.page = 0;
      showRowsPage(table);
    }
  }
  /* Long tables of the run and group pages (_table.html body()): the first page of rows is in
     the table's body, the rest in an inert <template>; here they are paged, and filtering and
     sorting cover every row. */
  function showRowsPage(table) {
    var rows = table.shownRows;
    var size = table.pageSize;
    var pages = Math.max(1, Math.ceil(rows.length / size));
    table.page = Math.max(0, Math.min(table.page, pages - 1));
    var start = table.page * size;
    var part = rows.slice(start, start + size);
    var body = table.tBodies[0];
    body.textContent = "";
    part.forEach(function (row) { body.appendChild(row); });
    var pager = table.rowsPager;
    var count = function (n) { return n.toLocaleString("en-US"); };
    pager.querySelector(".pager-status").textContent = rows.length ?
      count(start + 1) + "–" + count(start + part.length) + " of " + count(rows.length) + " rows" +
      (rows.length < table.allRows.length ? " matching (" + count(table.allRows.length) + " in all)" : "") :
      "no row matches";
    pager.querySelector(".pager-prev").disabled = table.page === 0;
    pager.querySelector(".pager-next").disabled = table.page >= pages - 1;
  }
  function setupMoreRows() {
    document.querySelectorAll("table template.more-rows").forEach(function (template) {
      var table = template.closest("table");
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      table.allRows = rows.concat(Array.prototype.slice.call(template.content.children));
      table.shownRows = table.allRows;
      table.page = 0;
      table.pageSize = Number(template.getAttribute("data-page-size")) || 100;
      var pager = document.createElement("nav");
      pager.className = "pager";
      pager.setAttribute("aria-label", "Pages of the table");
      ["pager-prev", "pager-status", "pager-next"].forEach(function (name, i) {
        var part = document.createElement(i === 1 ? "span" : "button");
        part.className = name;
        if (i === 1) { part.setAttribute("aria-live", "polite"); } else { part.type = "button"; }
        part.textContent = ["‹ previous", "", "next ›"][i];
        pager.appendChild(part);
        if (i < 2) { pager.appendChild(document.createTextNode(" ")); }
      });
      pager.querySelector(".pager-prev").addEventListener("click", function () {
        table.page -= 1;
        showRowsPage(table);
      });
      pager.querySelector(".pager-next").addEventListener("click", function () {
        table.page += 1;
        showRowsPage(table);
      });
      table.rowsPager = pager;
      var wrap = table.closest(".table-wrap") || table;
      wrap.parentNode.insertBefore(pager, wrap.nextSibling);
      var note = table.querySelector("tfoot.more-rows-note");
      if (note) { note.hidden = true; }
      showRowsPage(table);
    });
  }
  /* Tables and lists too long for the page (pages/paged.py): every row comes as inline JSON
     with named columns, is filtered and sorted here and shown one page at a time; the first
     page is also in the HTML. DOM nodes are built with textContent only: no markup is parsed,
     so no row can inject any. */
  function decodeRows(data) {
    var lookup = data.lookup || {};
    return data.rows.map(function (values) {
      var row = {};
      data.columns.forEach(function (name, i) {
        var table = lookup[name];
        var value = values[i];
        if (table) {
          value = Array.isArray(value) ? value.map(function (k) { return table[k]; }) : table[value];
        }
        row[name] = value;
      });
      return row;
    });
  }
  function pagedCell(row, text, className) {
    var cell = document.createElement("td");
    if (className) { cell.className = className; }
    if (text !== null) { cell.textContent = text; }
    row.appendChild(cell);
    return cell;
  }
  function pagedNumber(value) {
    return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
  }
  function pagedLink(cell, href, text) {
    var link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    cell.appendChild(link);
    return link;
  }
  function severityBadges(counts) {
    /* As _findings.html's counts(): a badge per severity present, or "clean". */
    var box = document.createElement("span");
    box.className = "sev-counts";
    ["error", "warning", "info"].forEach(function (severity) {
      var n = counts[severity];
      if (!n) { return; }
      var badge = document.createElement("span");
      badge.className = "badge sev-" + severity;
      badge.title = n + " " + severity + (n === 1 ? "" : "s");
      badge.textContent = n + " " + severity;
      box.appendChild(badge);
    });
    if (!box.childNodes.length) {
      var clean = document.createElement("span");
      clean.className = "badge sev-none";
      clean.textContent = "clean";
      box.appendChild(clean);
    }
    return box;
  }
  /* index.html's run table: pages/index.py RUN_TABLE; cells in the order of the header's
     data-column names, so a column added to the template and the JSON needs no change here. */
  function seLine(cell, text) {
    if (!text) { return; }
    var line = document.createElement("span");
    line.className = "se";
    line.textContent = text;
    cell.appendChild(document.createTextNode(" "));
    cell.appendChild(line);
  }
  var RUN_CELLS = {
    id: function (td, r) {
      pagedLink(td, r.href, r.id);
      var source = document.createElement("span");
      source.className = "muted small source";
      source.textContent = r.source;
      td.appendChild(document.createElement("br"));
      td.appendChild(source);
    },
    delta_h: function (td, r) {  /* as _table.html's td_se() */
      if (r.delta_h !== null) { td.setAttribute("data-value", String(r.delta_h)); }
      td.textContent = r.delta_h_text;
      seLine(td, r.delta_h_se);
      seLine(td, r.delta_h_eta ? "at η " + r.delta_h_eta : "");
    },
    status: function (td, r) {
      td.classList.add("status-" + r.status);
      td.textContent = r.status + (r.stale ? " (stale)" : "");
    },
    batch_size: function (td, r) { td.textContent = pagedNumber(r.batch_size); },
    findings: function (td, r) {
      td.classList.add("small");
      r.findings.forEach(function (f, i) {
        if (i) { td.appendChild(document.createTextNode(" ")); }
        var code = document.createElement("code");
        code.textContent = f;
        td.appendChild(code);
      });
    }
  };
  function runTableSpec(data, table) {
    var rows = decodeRows(data).map(function (r) {
      r.source = r.source || r.id + "/results.json";
      r.href = r.href || "runs/" + r.id + "/index.html";
      r.severities = [];
      r.checks = r.findings;
      r.search = [r.id, r.source, r.schema].concat(r.findings).join(" ").toLowerCase();
      return r;
    });
    var keys = {
      id: function (r) { return r.id.toLowerCase(); },
      delta_h: function (r) { return r.delta_h === null ? -Infinity : r.delta_h; },
      verdict_linear: function (r) { return r.verdict_linear || ""; },
      batch_size: function (r) { return r.batch_size === null ? -Infinity : r.batch_size; },
      findings: function (r) { return r.findings.join(" "); }
    };
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    function render(r) {
      var tr = document.createElement("tr");
      headers.forEach(function (th) {
        var name = th.getAttribute("data-column");
        var td = document.createElement("td");
        if (th.classList.contains("keep-narrow")) { td.classList.add("keep-narrow"); }
        if (RUN_CELLS[name]) {
          RUN_CELLS[name](td, r);
        } else {
          td.textContent = r[name] === null || r[name] === undefined ? "—" : String(r[name]);
        }
        tr.appendChild(td);
      });
      return tr;
    }
    return { rows: rows, keys: keys, render: render };
  }
  /* diagnostics.html's matrix: pages/matrix.py MATRIX; a cell is [check, count, severity]. */
  function matrixSpec(data) {
    var at = {};
    data.cell_columns.forEach(function (name, i) { at[name] = i; });
    var rows = decodeRows(data).map(function (r) {
      var cells = data.checks.map(function () { return null; });
      r.cells.forEach(function (c) {
        cells[c[at.check]] = { count: c[at.count], severity: data.severities[c[at.severity]] };
      });
      r.cells = cells;
      r.href = r.href || "runs/" + r.id + "/index.html";
      r.severities = ["error", "warning", "info"].filter(function (s) { return r[s + "s"] > 0; });
      r.checks = r.findings;
      r.search = [r.id].concat(r.findings).join(" ").toLowerCase();
      return r;
    });
    var keys = { id: function (r) { return r.id.toLowerCase(); } };
    data.checks.forEach(function (check, i) {
      keys["check:" + check] = function (r) { return r.cells[i] ? r.cells[i].count : 0; };
    });
    function render(r) {
      var tr = document.createElement("tr");
      pagedLink(pagedCell(tr, null), r.href, r.id);
      ["errors", "warnings", "infos"].forEach(function (c) { pagedCell(tr, String(r[c])); });
      r.cells.forEach(function (cell, i) {
        var td = pagedCell(tr, null, cell ? "cell-" + cell.severity : null);
        td.setAttribute("data-check", data.checks[i]);
        if (cell) {
          var link = pagedLink(td, r.href + "#findings", String(cell.count));
          link.title = cell.count + " × " + data.checks[i] + " (" + cell.severity + "): " +
            "the messages are on the run's page";
        }
      });
      return tr;
    }
    return { rows: rows, keys: keys, render: render };
  }
  /* index.html's group list: pages/index.py GROUP_LIST. */
  function groupListSpec(data) {
    var rows = decodeRows(data).map(function (g) {
      g.href = g.href || "groups/" + g.id + "/index.html";
      g.name = g.id.split("/").pop();
      g.severities = [];
      g.checks = [];
      g.search = g.id.toLowerCase();
      return g;
    });
    function render(g) {
      var li = document.createElement("li");
      li.className = "depth-" + Math.min(g.depth, 8);
      pagedLink(li, g.href, g.name).title = g.id;
      var runs = document.createElement("span");
      runs.className = "muted";
      runs.textContent = g.runs + (g.runs === 1 ? " run" : " runs") +
        (g.copies ? " (+" + g.copies + " byte-identical cop" + (g.copies === 1 ? "y)" : "ies)") : "");
      li.appendChild(document.createTextNode(" "));
      li.appendChild(runs);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(severityBadges({ error: g.errors, warning: g.warnings, info: g.infos }));
      return li;
    }
    return { rows: rows, keys: {}, render: render };
  }
  var PAGED_SPECS = { "run-rows": runTableSpec, "matrix": matrixSpec, "group-list": groupListSpec };
  /* The key a header sorts by: its column's name (data-column), else the text of its cells. */
  function pagedSortKey(spec, header, index) {
    var name = header.getAttribute("data-column");
    if (spec.keys[name]) { return spec.keys[name]; }
    if (name) { return function (r) { return r[name]; }; }
    return function (r) { return spec.render(r).cells[index].textContent.toLowerCase(); };
  }
  /* The rows' JSON: in the page (a script element of type application/json), or in a script
     file beside it (data-rows-src), loaded now that the page is up; it sets
     window.reportgenRows[key] (pages/paged.py RowsScript). */
  function loadRows(container, done) {
    var key = container.getAttribute("data-rows");
    var node = document.getElementById(key);
    if (node) { done(JSON.parse(node.textContent)); return; }
    var src = container.getAttribute("data-rows-src");
    if (!src) { return; }
    var script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", function () {
      var rows = window.reportgenRows && window.reportgenRows[key];
      if (rows) { done(rows); }
    });
    script.addEventListener("error", function () {
      if (window.console) { window.console.error("reportgen: could not load " + src); }
    });
    document.body.appendChild(script);
  }
  function setupPaged(container) {
    var pager = document.querySelector("nav.pager[data-for='" + container.id + "']");
    var makeSpec = PAGED_SPECS[container.id];
    if (!pager || !makeSpec) { return; }
    loadRows(container, function (data) {
      startPaging(container, pager, data, makeSpec(data, container));
    });
  }
  function startPaging(container, pager, data, spec) {
    var rows = spec.rows;
    var noun = container.getAttribute("data-noun") || "runs";
    var status = pager.querySelector(".pager-status");
    var prev = pager.querySelector(".pager-prev");
    var next = pager.querySelector(".pager-next");
    var state = { terms: [], severity: "", check: "", key: null, ascending: true, page: 0, shown: rows };
    var body = container.tBodies ? container.tBodies[0] : container;
    function count(n) { return n.toLocaleString("en-US"); }
    function render() {
      var size = data.page_size;
      var pages = Math.max(1, Math.ceil(state.shown.length / size));
      state.page = Math.min(state.page, pages - 1);
      var start = state.page * size;
      var part = state.shown.slice(start, start + size);
      var fragment = document.createDocumentFragment();
      part.forEach(function (r) { fragment.appendChild(spec.render(r)); });
      body.textContent = "";
      body.appendChild(fragment);
      status.textContent = state.shown.length ?
        count(start + 1) + "–" + count(start + part.length) + " of " + count(state.shown.length) + " " + noun +
        (state.shown.length < rows.length ? " matching (" + count(rows.length) + " in all)" : "") :
        "no " + noun.replace(/s$/, "") + " matches";
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }
    function refilter() {
      var shown = rows.filter(function (r) {
        return state.terms.every(function (t) { return r.search.indexOf(t) !== -1; }) &&
          (!state.severity || r.severities.indexOf(state.severity) !== -1) &&
          (!state.check || r.checks.indexOf(state.check) !== -1);
      });
      if (state.key !== null) {
        var key = state.key;
        var sign = state.ascending ? 1 : -1;
        shown = shown.slice().sort(function (a, b) {
          var x = key(a);
          var y = key(b);
          return x < y ? -sign : x > y ? sign : 0;
        });
      }
      state.shown = shown;
      render();
    }
    prev.addEventListener("click", function () { state.page -= 1; render(); });
    next.addEventListener("click", function () { state.page += 1; render(); });
    var selector = "[data-table='" + container.id + "']";
    document.querySelectorAll("input.table-filter" + selector).forEach(function (input) {
      input.addEventListener("input", function () {
        state.terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
        state.page = 0;
        refilter();
      });
    });
    [["select.severity-filter", "severity"], ["select.check-filter", "check"]].forEach(function (pair) {
      document.querySelectorAll(pair[0] + selector).forEach(function (select) {
        select.addEventListener("change", function () {
          state[pair[1]] = select.value;
          state.page = 0;
          refilter();
        });
      });
    });
    var headers = container.tHead ? container.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (header, index) {
      var key = pagedSortKey(spec, header, index);
      header.tabIndex = 0;
      header.classList.add("sort-header");
      header.setAttribute("title", "Sort by this column");
      var activate = function () {
        state.ascending = header.getAttribute("aria-sort") !== "ascending";
        container.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
        state.key = key;
        refilter();
      };
      header.addEventListener("click", activate);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
      });
    });
    var note = document.getElementById(container.id + "-note");
    if (note) { note.hidden = true; }
    pager.hidden = false;
    render();
  }
  function setupPagedRows() {
    document.querySelectorAll("[data-rows]").forEach(setupPaged);
  }

  /* figures.html: figure cards found by search and by group, population and chart kind, shown
     a page of cards at a time (their thumbnails load only once shown). */
  var FIGURES_PAGE = 24;
  function setupFigureIndex() {
    var list = document.getElementById("figure-list");
    var pager = document.querySelector("nav.pager[data-for='figure-list']");
    if (!list || !pager) { return; }
    var cards = Array.prototype.slice.call(list.querySelectorAll("li.figure-card"));
    var filters = Array.prototype.slice.call(document.querySelectorAll(".figure-filter"));
    var empty = document.getElementById("figure-list-empty");
    var state = { page: 0, shown: cards };
    var count = function (n) { return n.toLocaleString("en-US"); };
    function render() {
      var pages = Math.max(1, Math.ceil(state.shown.length / FIGURES_PAGE));
      state.page = Math.max(0, Math.min(state.page, pages - 1));
      var start = state.page * FIGURES_PAGE;
      var visible = state.shown.slice(start, start + FIGURES_PAGE);
      cards.forEach(function (card) { card.hidden = visible.indexOf(card) === -1; });
      pager.querySelector(".pager-status").textContent = state.shown.length ?
        count(start + 1) + "–" + count(start + visible.length) + " of " + count(state.shown.length) +
        " figures" + (state.shown.length < cards.length ? " matching (" + count(cards.length) + " in all)" : "") :
        "no figure matches";
      pager.querySelector(".pager-prev").disabled = state.page === 0;
      pager.querySelector(".pager-next").disabled = state.page >= pages - 1;
      empty.hidden = state.shown.length > 0;
    }
    function refilter() {
      var wanted = {};
      filters.forEach(function (f) { wanted[f.getAttribute("data-field")] = f.value; });
      var terms = (wanted.search || "").toLowerCase().split(/\s+/).filter(Boolean);
      state.shown = cards.filter(function (card) {
        var text = card.getAttribute("data-search");
        return terms.every(function (t) { return text.indexOf(t) !== -1; }) &&
          ["group", "population", "kind"].every(function (field) {
            return !wanted[field] || card.getAttribute("data-" + field) === wanted[field];
          });
      });
      state.page = 0;
      render();
    }
    filters.forEach(function (f) { f.addEventListener(f.tagName === "SELECT" ? "change" : "input", refilter); });
    pager.querySelector(".pager-prev").addEventListener("click", function () { state.page -= 1; render(); });
    pager.querySelector(".pager-next").addEventListener("click", function () { state.page += 1; render(); });
    pager.hidden = false;
    refilter();
  }

  function setupFilters() {
    document.querySelectorAll("input.table-filter").forEach(function (input) {
      var table = document.getElementById(input.getAttribute("data-table"));
      if (!table || table.hasAttribute("data-rows")) { return; }
      input.addEventListener("input", function () {
        table.setAttribute("data-filter", input.value);
        applyRowVisibility(table);
      });
    });
    var selects = [["select.severity-filter", "data-severity"], ["select.check-filter", "data-check-filter"]];
    selects.forEach(function (pair) {
      document.querySelectorAll(pair[0]).forEach(function (select) {
        var table = document.getElementById(select.getAttribute("data-table"));
        if (!table || table.hasAttribute("data-rows")) { return; }
        select.addEventListener("change", function () {
          table.setAttribute(pair[1], select.value);
          applyRowVisibility(table);
        });
      });
    });
  }

  /* ---- η selector -------------------------------------------------------------------- */
  function setupEtaSelector() {
    var select = document.getElementById("eta-select");
    if (!select) { return; }
    // Printed pages have no menu: say which η the per-sequence charts show.
    var printed = document.createElement("span");
    printed.className = "print-only eta-printed";
    select.parentNode.appendChild(printed);
    var sync = function () {
      var label = select.options[select.selectedIndex].text;
      printed.textContent = "(η = " + label + ")";
      document.querySelectorAll("table.eta-rows").forEach(applyRowVisibility);
      document.querySelectorAll(".cite-eta[data-selected]").forEach(function (span) {
        span.textContent = label;
      });
    };
    select.addEventListener("change", sync);
    document.querySelectorAll(".cite-eta").forEach(function (span) {
      if (span.getAttribute("data-eta-all") === "selected") { span.setAttribute("data-selected", "1"); }
    });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    setupMoreRows();
    setupSorting();
    setupFilters();
    setupPagedRows();
    setupFigureIndex();
    setupEtaSelector();
    setupCharts();
  });
}());
