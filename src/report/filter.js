(function () {
  "use strict";
  var q = document.getElementById("filter-text");
  var src = document.getElementById("filter-source");
  var shown = document.getElementById("rows-shown");
  var table = document.getElementById("timeline-table");
  var timeBox = document.getElementById("filter-time");
  var timeText = document.getElementById("filter-time-text");
  var timeClear = document.getElementById("filter-time-clear");
  if (!q || !src || !shown || !table || !timeBox || !timeText || !timeClear) { return; }
  var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
  var text = [];
  for (var i = 0; i < rows.length; i++) { text.push(rows[i].textContent.toLowerCase()); }
  // A bar clicked in the chart: [from, to) as RFC 3339 text, which sorts as time does.
  var from = "", to = "", selected = null;
  function apply() {
    var t = q.value.toLowerCase(), s = src.value, n = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], time = r.getAttribute("data-time") || "";
      var ok = (!s || r.getAttribute("data-source") === s) &&
        (!t || text[i].indexOf(t) >= 0) &&
        (!from || (time >= from && time < to));
      r.hidden = !ok;
      if (ok) { n++; }
    }
    shown.textContent = String(n);
  }
  function pick(bar) {
    if (selected) { selected.classList.remove("selected"); }
    selected = bar;
    if (bar) {
      bar.classList.add("selected");
      from = bar.getAttribute("data-from") || "";
      to = bar.getAttribute("data-to") || "";
      timeText.textContent = from + " to " + to;
    } else {
      from = to = "";
    }
    timeBox.hidden = !bar;
    apply();
  }
  var bars = document.querySelectorAll("#chart .bar");
  for (var j = 0; j < bars.length; j++) {
    bars[j].addEventListener("click", function (ev) { pick(ev.currentTarget); });
  }
  // A link can carry a filter: report.html#filter=TEXT&source=SOURCE.
  var hash = window.location.hash.replace(/^#/, "").split("&");
  for (var k = 0; k < hash.length; k++) {
    var kv = hash[k].split("="), val = "";
    try { val = decodeURIComponent((kv[1] || "").replace(/\+/g, " ")); } catch (e) { val = ""; }
    if (kv[0] === "filter") { q.value = val; }
    if (kv[0] === "source") { src.value = val; }
  }
  q.addEventListener("input", apply);
  src.addEventListener("change", apply);
  timeClear.addEventListener("click", function () { pick(null); });
  apply();
  document.documentElement.setAttribute("data-filter-ready", "1");
})();
