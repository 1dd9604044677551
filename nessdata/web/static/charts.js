/* ness.DATA charts: small hand-written SVG charts, no library, no network.
   Data comes from the page itself:
   <script type="application/json" id="chart-data">. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626",
                "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
  var HEIGHT = 260, M = {top: 12, right: 16, bottom: 30, left: 64};
  var plain = new Intl.NumberFormat("pt-BR", {maximumFractionDigits: 2});

  function node(tag, attrs, parent, text) {
    var el = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    if (parent) parent.appendChild(el);
    return el;
  }

  function niceStep(max, count) {
    var raw = max / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (raw <= steps[i] * power) return steps[i] * power;
    }
    return 10 * power;
  }

  function scaleY(min, max) {
    if (min === max) { max = min + 1; }
    var step = niceStep(max - min, 4);
    var lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step;
    var ticks = [];
    for (var v = lo; v <= hi + step / 2; v += step) ticks.push(v);
    return {lo: lo, hi: hi, ticks: ticks};
  }

  function frame(box, scale, format) {
    box.textContent = "";
    var width = Math.max(box.clientWidth || 0, 320);
    var svg = node("svg", {viewBox: "0 0 " + width + " " + HEIGHT, width: width,
                           height: HEIGHT, "class": "chart-svg"}, box);
    var h = HEIGHT - M.top - M.bottom, w = width - M.left - M.right;
    var y = function (v) {
      return M.top + h - (v - scale.lo) / (scale.hi - scale.lo) * h;
    };
    scale.ticks.forEach(function (t) {
      node("line", {x1: M.left, x2: M.left + w, y1: y(t), y2: y(t), "class": "grid"},
           svg);
      node("text", {x: M.left - 8, y: y(t) + 4, "text-anchor": "end", "class": "tick"},
           svg, format(t));
    });
    return {svg: svg, w: w, h: h, y: y};
  }

  function xLabels(f, labels, xOf) {
    var every = Math.max(1, Math.ceil(labels.length / Math.max(2, f.w / 90)));
    var last = labels.length - 1;
    labels.forEach(function (label, i) {
      if (i % every && i !== last) return;
      if (i === last && i % every && last % every < every / 2) return;
      var anchor = i === 0 ? "start" : i === last ? "end" : "middle";
      var x = i === 0 ? Math.min(xOf(i), M.left) : i === last ? Math.max(xOf(i),
              M.left + f.w) : xOf(i);
      // 04/03/2025 becomes 04/03/25: the year stays, the axis stays readable.
      var text = label.length === 10 ? label.slice(0, 6) + label.slice(8) : label;
      node("text", {x: x, y: HEIGHT - 8, "text-anchor": anchor, "class": "tick"},
           f.svg, text);
    });
  }

  function legend(box, names) {
    var list = document.createElement("ul");
    list.className = "legend";
    names.forEach(function (name, i) {
      var item = document.createElement("li");
      var dot = document.createElement("span");
      dot.className = "dot";
      dot.style.background = COLORS[i % COLORS.length];
      item.appendChild(dot);
      item.appendChild(document.createTextNode(name));
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function stackedBars(box, data) {
    var totals = data.labels.map(function (_, i) {
      return data.series.reduce(function (sum, s) { return sum + s.values[i]; }, 0);
    });
    var scale = scaleY(0, Math.max.apply(null, totals.concat([1])));
    var f = frame(box, scale, plain.format);
    var band = f.w / data.labels.length, bar = Math.max(1, band * 0.8);
    var xOf = function (i) { return M.left + i * band + band / 2; };
    data.labels.forEach(function (label, i) {
      var base = 0;
      data.series.forEach(function (s, k) {
        var v = s.values[i];
        if (!v) return;
        var rect = node("rect", {x: xOf(i) - bar / 2, y: f.y(base + v), width: bar,
                                 height: Math.max(0.5, f.y(base) - f.y(base + v)),
                                 fill: COLORS[k % COLORS.length], "class": "bar"},
                        f.svg);
        node("title", {}, rect, label + " · " + s.name + ": " + plain.format(v));
        base += v;
      });
    });
    xLabels(f, data.labels, xOf);
    legend(box, data.series.map(function (s) { return s.name; }));
  }

  function lineChart(box, points, format, color) {
    var values = points.filter(function (p) { return p[1] !== null; })
                       .map(function (p) { return Number(p[1]); });
    if (!values.length) values = [0];
    var scale = scaleY(Math.min.apply(null, values), Math.max.apply(null, values));
    var f = frame(box, scale, format);
    var step = points.length > 1 ? f.w / (points.length - 1) : 0;
    var xOf = function (i) {
      return M.left + (points.length > 1 ? i * step : f.w / 2);
    };
    var path = "", pen = "M";
    points.forEach(function (p, i) {
      if (p[1] === null) { pen = "M"; return; }
      path += pen + xOf(i).toFixed(1) + "," + f.y(Number(p[1])).toFixed(1) + " ";
      pen = "L";
    });
    node("path", {d: path, fill: "none", stroke: color, "stroke-width": 2,
                  "class": "line"}, f.svg);
    var radius = points.length > 60 ? 0 : 3;
    points.forEach(function (p, i) {
      if (p[1] === null) return;
      var dot = node("circle", {cx: xOf(i), cy: f.y(Number(p[1])), r: radius || 6,
                                fill: color, "fill-opacity": radius ? 1 : 0,
                                "class": "point"}, f.svg);
      node("title", {}, dot, p[0] + ": " + p[2]);
    });
    xLabels(f, points.map(function (p) { return p[0]; }), xOf);
  }

  function unitFormat(unit) {
    if (unit === "BRL" || unit === "R$") {
      return function (v) { return "R$ " + plain.format(v); };
    }
    if (unit === "%" || unit === "pct") {
      return function (v) { return plain.format(v) + "%"; };
    }
    return plain.format;
  }

  function draw(data) {
    var events = document.getElementById("chart-events");
    if (events) stackedBars(events, data.events);
    var select = document.getElementById("index-select");
    var indices = document.getElementById("chart-indices");
    if (select && indices) {
      var series = data.indices.filter(function (s) {
        return s.key === select.value;
      })[0] || data.indices[0];
      lineChart(indices, series.points, unitFormat(series.unit), COLORS[0]);
    }
    data.rates.forEach(function (s, i) {
      var box = document.getElementById("chart-" + s.key);
      if (!box) return;
      var format = s.key === "dollar_ptax" ? unitFormat("BRL") : unitFormat("%");
      lineChart(box, s.points, format, COLORS[(i + 2) % COLORS.length]);
    });
  }

  function enableLater() {
    document.querySelectorAll("button[data-ready-at]").forEach(function (button) {
      var wait = Date.parse(button.getAttribute("data-ready-at")) - Date.now();
      setTimeout(function () {
        button.disabled = false;
        button.textContent = button.textContent.split(" · ")[0];
      }, Math.max(0, wait));
    });
  }

  function start() {
    var source = document.getElementById("chart-data");
    if (source) {
      var data = JSON.parse(source.textContent);
      draw(data);
      var select = document.getElementById("index-select");
      if (select) select.addEventListener("change", function () { draw(data); });
      var timer;
      window.addEventListener("resize", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { draw(data); }, 150);
      });
    }
    enableLater();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
