/* reportgen page behaviour: charts, tables, search, η selector, theme. Plain JS, no network. */
(function () {
  "use strict";

  var THEME_KEY = "reportgen-theme";
  var views = [];
  var generation = 0;
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
  /* Small multiples have fixed cells (Vega-Lite cannot fit a facet to its container): on a
     narrow screen, one column of cells as wide as the figure allows. */
  var FACET_ALLOWANCE = 110;  /* y axis and padding beside each cell, px */
  function fitFacets(spec, figure) {
    if (!spec.facet || !spec.spec || !spec.columns || !figure) { return; }
    var room = figure.clientWidth - 24;
    var cell = spec.spec.width;
    if (typeof cell !== "number" || room >= spec.columns * (cell + FACET_ALLOWANCE)) { return; }
    spec.columns = 1;
    spec.spec.width = Math.max(160, Math.min(2 * cell, room - FACET_ALLOWANCE));
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
  function setupExportLinks(target, view) {
    // vega-embed fills an export link's href on mousedown, which keyboard activation and quick
    // synthetic clicks never send: render the image first, then follow the link.
    target.querySelectorAll(".vega-actions a[download]").forEach(function (link) {
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
  function setupActionsMenu(target) {
    var menu = target.querySelector("details");
    if (!menu) { return; }
    var summary = menu.querySelector("summary");
    summary.setAttribute("aria-label", "Export this chart");
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.removeAttribute("open");
        summary.focus();
      }
    });
  }
  function renderCharts() {
    if (typeof window.vegaEmbed !== "function") { return; }
    views.forEach(function (v) { v.finalize(); });
    views = [];
    generation += 1;
    var current = generation;
    var dark = effectiveDark();
    document.querySelectorAll("script.chart-spec").forEach(function (node) {
      var figure = node.closest("figure");
      var target = figure.querySelector(".chart-view");
      target.removeAttribute("data-rendered");
      var spec;
      try {
        spec = chartSpec(node);
      } catch (e) {
        target.textContent = "Chart data could not be read.";
        target.setAttribute("data-rendered", "error");
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
        if (current !== generation) { result.finalize(); return; }  // a newer render superseded it
        views.push(result);
        setupActionsMenu(target);
        setupExportLinks(target, result.view);
        target.setAttribute("data-rendered", dark ? "dark" : "light");
        figure.classList.add("is-drawn");
        addCsvLink(figure, spec);
      }).catch(function (error) {
        target.textContent = "Chart could not be drawn: " + error;
        target.setAttribute("data-rendered", "error");
        if (window.console) { window.console.error("reportgen: chart " + figure.id + ": " + error); }
      });
    });
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
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
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
  function applyRowVisibility(table) {
    var filter = table.getAttribute("data-filter") || "";
    var eta = table.classList.contains("eta-rows") ? currentEta() : null;
    var terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var text = (row.textContent + " " + (row.getAttribute("data-search") || "")).toLowerCase();
      var matches = terms.every(function (t) { return text.indexOf(t) !== -1; });
      var rowEta = row.getAttribute("data-eta");
      if (eta !== null && rowEta !== null && Number(rowEta) !== Number(eta)) { matches = false; }
      var severity = table.getAttribute("data-severity");
      if (severity && (" " + (row.getAttribute("data-severities") || "") + " ").indexOf(" " + severity + " ") === -1) { matches = false; }
      var check = table.getAttribute("data-check-filter");
      if (check && (" " + (row.getAttribute("data-checks") || "") + " ").indexOf(" " + check + " ") === -1) { matches = false; }
      row.hidden = !matches;
      if (matches) { shown += 1; }
    });
    table.setAttribute("data-shown", String(shown));
  }
  /* Tables too long for the page: rows come from inline JSON (index.html: pages/site.py
     run_table_json; diagnostics.html: matrix_json), filtered, sorted and shown one page at a
     time. DOM nodes built with textContent only: no markup is parsed, so no row can inject any. */
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
  function runTableSpec(data) {
    var rows = data.rows.map(function (r) {
      var source = r[1] || r[0] + "/results.json";
      var schema = data.schemas[r[2]];
      var findings = r[10].map(function (i) { return data.findings[i]; });
      return {
        id: r[0], source: source, schema: schema, status: data.statuses[r[3]], stale: r[4] === 1,
        batch: r[5], etas: r[6], counts: [r[7], r[8], r[9]], findings: findings,
        href: r[11] || "runs/" + r[0] + "/index.html", severities: [], checks: findings,
        search: [r[0], source, schema].concat(findings).join(" ").toLowerCase()
      };
    });
    var keys = [
      function (r) { return r.id.toLowerCase(); }, function (r) { return r.schema; },
      function (r) { return r.status; }, function (r) { return r.batch === null ? -Infinity : r.batch; },
      function (r) { return r.etas; }, function (r) { return r.counts[0]; },
      function (r) { return r.counts[1]; }, function (r) { return r.counts[2]; },
      function (r) { return r.findings.join(" "); }
    ];
    function render(r) {
      var tr = document.createElement("tr");
      var first = pagedCell(tr, null);
      pagedLink(first, r.href, r.id);
      var source = document.createElement("span");
      source.className = "muted small";
      source.textContent = r.source;
      first.appendChild(document.createElement("br"));
      first.appendChild(source);
      pagedCell(tr, r.schema);
      pagedCell(tr, r.status + (r.stale ? " (stale)" : ""), "status-" + r.status);
      pagedCell(tr, pagedNumber(r.batch));
      pagedCell(tr, String(r.etas));
      r.counts.forEach(function (c) { pagedCell(tr, String(c)); });
      var cell = pagedCell(tr, null, "small");
      r.findings.forEach(function (f, i) {
        if (i) { cell.appendChild(document.createTextNode(" ")); }
        var code = document.createElement("code");
        code.textContent = f;
        cell.appendChild(code);
      });
      return tr;
    }
    return { rows: rows, keys: keys, render: render };
  }
  function matrixSpec(data) {
    var rows = data.rows.map(function (r) {
      var counts = [r[2], r[3], r[4]];
      var findings = r[5].map(function (i) { return data.findings[i]; });
      var cells = data.checks.map(function () { return null; });
      r[6].forEach(function (c) { cells[c[0]] = { count: c[1], severity: data.severities[c[2]] }; });
      return {
        id: r[0], href: r[1] || "runs/" + r[0] + "/index.html", counts: counts, cells: cells,
        severities: data.severities.filter(function (s, i) { return counts[i] > 0; }),
        checks: findings, search: [r[0]].concat(findings).join(" ").toLowerCase()
      };
    });
    var keys = [
      function (r) { return r.id.toLowerCase(); }, function (r) { return r.counts[0]; },
      function (r) { return r.counts[1]; }, function (r) { return r.counts[2]; }
    ].concat(data.checks.map(function (check, i) {
      return function (r) { return r.cells[i] ? r.cells[i].count : 0; };
    }));
    function render(r) {
      var tr = document.createElement("tr");
      pagedLink(pagedCell(tr, null), r.href, r.id);
      r.counts.forEach(function (c) { pagedCell(tr, String(c)); });
      r.cells.forEach(function (cell, i) {
        var td = pagedCell(tr, null, cell ? "cell-" + cell.severity : null);
        td.setAttribute("data-check", data.checks[i]);
        if (cell) {
          var link = pagedLink(td, r.href + "#findings", String(cell.count));
          link.title = cell.count + " × " + data.checks[i] + " (" + cell.severity + "): the messages are on the run's page";
        }
      });
      return tr;
    }
    return { rows: rows, keys: keys, render: render };
  }
  function setupPagedTable() {
    var table = document.querySelector("table[data-rows]");
    var node = table && document.getElementById(table.getAttribute("data-rows"));
    if (!node) { return; }
    var data = JSON.parse(node.textContent);
    var spec = table.id === "matrix" ? matrixSpec(data) : runTableSpec(data);
    var rows = spec.rows;
    var pager = document.querySelector("nav.pager");
    var status = pager.querySelector(".pager-status");
    var prev = pager.querySelector(".pager-prev");
    var next = pager.querySelector(".pager-next");
    var state = { terms: [], severity: "", check: "", key: null, ascending: true, page: 0, shown: rows };
    var body = table.tBodies[0];
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
        (start + 1).toLocaleString("en-US") + "–" + (start + part.length).toLocaleString("en-US") +
        " of " + state.shown.length.toLocaleString("en-US") + " runs" +
        (state.shown.length < rows.length ? " matching (" + rows.length.toLocaleString("en-US") + " in all)" : "") :
        "no run matches";
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
        var key = spec.keys[state.key];
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
    var selector = "[data-table='" + table.id + "']";
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
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.tabIndex = 0;
      header.classList.add("sort-header");
      header.setAttribute("title", "Sort by this column");
      var activate = function () {
        state.ascending = header.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
        state.key = index;
        refilter();
      };
      header.addEventListener("click", activate);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
      });
    });
    var note = document.getElementById(table.id + "-note");
    if (note) { note.hidden = true; }
    pager.hidden = false;
    render();
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
    [["select.severity-filter", "data-severity"], ["select.check-filter", "data-check-filter"]].forEach(function (pair) {
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
    setupSorting();
    setupFilters();
    setupPagedTable();
    setupEtaSelector();
    renderCharts();
  });
}());
