(function () {
  "use strict";
  var q = document.getElementById("filter-text");
  var src = document.getElementById("filter-source");
  var shown = document.getElementById("rows-shown");
  var table = document.getElementById("timeline-table");
  if (!q || !src || !shown || !table) { return; }
  var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
  var text = [];
  for (var i = 0; i < rows.length; i++) { text.push(rows[i].textContent.toLowerCase()); }
  function apply() {
    var t = q.value.toLowerCase(), s = src.value, n = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = (!s || rows[i].getAttribute("data-source") === s) &&
        (!t || text[i].indexOf(t) >= 0);
      rows[i].hidden = !ok;
      if (ok) { n++; }
    }
    shown.textContent = String(n);
  }
  q.addEventListener("input", apply);
  src.addEventListener("change", apply);
  apply();
  document.documentElement.setAttribute("data-filter-ready", "1");
})();
