// tfxkit ui: small progressive enhancement over server-rendered pages.
// - runs page: the filter form filters the table as you change it (no reload);
// - lineage page: clicking a box shows its properties and URI beside the graph;
// - models page: each write asks for confirmation, then sets the form's confirm field
//   (the server refuses a write without it).
(function () {
  "use strict";

  function filterRuns() {
    var form = document.getElementById("filters");
    var table = document.getElementById("runs");
    if (!form || !table) return;
    function apply() {
      var state = form.elements.state.value, blessed = form.elements.blessed.value,
          pushed = form.elements.pushed.value, q = form.elements.q.value.toLowerCase();
      var shown = 0, rows = table.querySelectorAll("tr.run");
      rows.forEach(function (tr) {
        var ok = (!state || tr.dataset.state === state) &&
                 (!blessed || tr.dataset.blessed === blessed) &&
                 (!pushed || tr.dataset.pushed === pushed) &&
                 (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
        tr.hidden = !ok;
        if (ok) shown++;
      });
      var count = document.getElementById("shown-count");
      if (count) count.textContent = shown + " of " + rows.length + " runs shown";
    }
    form.addEventListener("change", apply);
    form.addEventListener("input", apply);
  }

  function lineage() {
    var data = document.getElementById("lineage-nodes");
    var graph = document.getElementById("lineage-graph");
    if (!data || !graph) return;
    var nodes = JSON.parse(data.textContent);
    graph.querySelectorAll("g[data-node]").forEach(function (g) {
      g.style.cursor = "pointer";
      g.addEventListener("click", function () {
        var n = nodes[g.getAttribute("data-node")];
        if (!n) return;
        graph.querySelectorAll("g.selected").forEach(function (x) { x.classList.remove("selected"); });
        g.classList.add("selected");
        document.getElementById("props-title").textContent = n.label + " (" + n.kind + ")";
        var uri = document.getElementById("props-uri");
        uri.textContent = n.uri ? "URI: " + n.uri : "";
        uri.dataset.uri = n.uri || "";
        var table = document.getElementById("props-table");
        table.innerHTML = "";
        Object.keys(n.properties).sort().forEach(function (k) {
          var v = n.properties[k];
          var tr = document.createElement("tr");
          var th = document.createElement("th"), td = document.createElement("td");
          th.textContent = k;
          td.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
          tr.dataset.key = k;
          tr.appendChild(th); tr.appendChild(td); table.appendChild(tr);
        });
      });
    });
  }

  function confirmations() {
    document.querySelectorAll("form.write").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.dataset.confirm || "Change the registry?")) {
          ev.preventDefault();
          return;
        }
        var expect = form.dataset.expect;
        if (form.dataset.expectField) expect = form.elements[form.dataset.expectField].value;
        form.elements.confirm.value = expect;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    filterRuns(); lineage(); confirmations();
  });
})();
