// fedledger explorer: copy buttons, charts (Chart.js, served locally), live updates by polling the head block.
(function () {
  "use strict";
  var charts = [];
  var palette = ["#2456a6", "#1e7a46", "#b42318", "#8a5a00", "#6941c6", "#0e7490", "#c2410c", "#4d7c0f", "#be185d", "#475467"];

  function drawCharts() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var holder = document.getElementById("chart-data");
    if (!holder || typeof Chart === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    var common = { animation: false, responsive: true, maintainAspectRatio: false, spanGaps: true };
    var perf = document.getElementById("chart-performance");
    if (perf && data.performance) {
      charts.push(new Chart(perf, {
        type: "line",
        data: { labels: data.performance.labels, datasets: [{ label: "validation accuracy", data: data.performance.values, borderColor: palette[0], backgroundColor: palette[0], tension: 0.2 }] },
        options: Object.assign({}, common, { scales: { y: { suggestedMin: 0, suggestedMax: 1, title: { display: true, text: "performance (fraction)" } } } })
      }));
    }
    var contrib = document.getElementById("chart-contributions");
    if (contrib && data.contributions) {
      var many = data.contributions.series.length > 10;
      charts.push(new Chart(contrib, {
        type: "line",
        data: {
          labels: data.contributions.labels,
          datasets: data.contributions.series.map(function (s, i) {
            var color = palette[i % palette.length];
            return { label: s.label, data: s.values, borderColor: color, backgroundColor: color, pointRadius: many ? 0 : 3, borderWidth: many ? 1 : 2 };
          })
        },
        options: Object.assign({}, common, { plugins: { legend: { display: !many, position: "bottom" } }, scales: { y: { title: { display: true, text: "cumulative score" } } } })
      }));
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) { return; }
    var text = button.getAttribute("data-copy");
    var done = function () { button.classList.add("done"); setTimeout(function () { button.classList.remove("done"); }, 1200); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
    }
  });

  var form = document.getElementById("audit-form");
  if (form) {
    form.addEventListener("submit", function () {
      var button = document.getElementById("run-audit");
      button.disabled = true; button.textContent = "Auditing…";
    });
  }

  function poll() {
    fetch("api/head.json", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (body) {
      var live = document.getElementById("live");
      if (live) { live.classList.remove("stale"); }
      var known = document.body.getAttribute("data-head");
      if (body.head === null || String(body.head) === known) { return; }
      // A new block: fetch this page again and swap its content in place, no reload.
      return fetch(window.location.href, { cache: "no-store" }).then(function (r) { return r.text(); }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var content = fresh.getElementById("content");
        if (!content) { return; }
        document.getElementById("content").innerHTML = content.innerHTML;
        var head = fresh.getElementById("head");
        if (head && document.getElementById("head")) { document.getElementById("head").textContent = head.textContent; }
        document.body.setAttribute("data-head", fresh.body.getAttribute("data-head"));
        drawCharts();
      });
    }).catch(function () {
      var live = document.getElementById("live");
      if (live) { live.classList.add("stale"); }
    });
  }

  drawCharts();
  if (document.body.getAttribute("data-live") === "1" && document.body.getAttribute("data-page") !== "audit") {
    setInterval(poll, 2000);
  }
})();
