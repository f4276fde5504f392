/* Sorts the county table of index.html by the clicked heading (numbers by value, text by Chinese order). */
(function () {
  var table = document.getElementById("rp-counties");
  if (!table) { return; }
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.setAttribute("tabindex", "0");
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending", num = th.classList.contains("num");
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        if (num) {  // empty cells (not computed) last in both directions
          var fx = x === "" ? NaN : parseFloat(x), fy = y === "" ? NaN : parseFloat(y);
          if (isNaN(fx) || isNaN(fy)) { return isNaN(fx) - isNaN(fy); }
          return asc ? fx - fy : fy - fx;
        }
        var r = x.localeCompare(y, "zh");
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
})();
