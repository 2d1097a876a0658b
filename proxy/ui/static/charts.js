// Small SVG charts: bars with 95 % error bars, lines over time or over ε, and the
// sandbox's strips of noisy draws around an exact answer. No library.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f6fb2", "#d9822b", "#3a9d5d", "#b03a48", "#7a5ab8", "#5f7d8c", "#c2a83e"];

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, v);
    if (text != null) node.textContent = text;
    return node;
  }
  function frame(container, width, height, label) {
    container.replaceChildren();
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
      class: "svgchart", preserveAspectRatio: "xMidYMid meet" });
    root.append(svg("title", {}, label));
    container.append(root);
    return root;
  }
  function nice(lo, hi, n = 5) {
    if (lo === hi) { hi = lo + 1; }
    const step0 = (hi - lo) / n;
    const mag = 10 ** Math.floor(Math.log10(step0));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }
  const short = (s, n = 14) => (String(s).length > n ? String(s).slice(0, n - 1) + "…" : String(s));

  // Vertical bars, one per label, each with its 95 % interval as an error bar.
  DP.bars = function (container, labels, values, half, { title = "", column = "" } = {}) {
    const W = 640, H = 300, L = 64, R = 16, T = 28, B = 58;
    const root = frame(container, W, H, title || `${column} by group, with 95 % intervals`);
    const hi = Math.max(...values.map((v, i) => v + (half[i] || 0)), 0);
    const lo = Math.min(...values.map((v, i) => v - (half[i] || 0)), 0);
    const ticks = nice(lo, hi);
    const y0 = Math.min(lo, ticks[0]), y1 = Math.max(hi, ticks[ticks.length - 1]);
    const y = (v) => T + (H - T - B) * (1 - (v - y0) / (y1 - y0 || 1));
    root.append(svg("text", { x: L, y: 16, class: "ctitle" }, title));
    for (const t of ticks) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(t), y2: y(t), class: "grid" }));
      root.append(svg("text", { x: L - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, DP.num(t)));
    }
    const slot = (W - L - R) / Math.max(labels.length, 1);
    const bw = Math.min(56, slot * 0.6);
    labels.forEach((label, i) => {
      const cx = L + slot * (i + 0.5), v = values[i], h = half[i] || 0;
      const top = y(Math.max(v, 0)), bottom = y(Math.min(v, 0));
      const bar = svg("rect", { x: cx - bw / 2, y: top, width: bw, height: Math.max(bottom - top, 1),
        class: "bar", fill: COLORS[0] });
      bar.append(svg("title", {}, `${label}: ${DP.num(v)} ± ${DP.num(h)} (95 %)`));
      root.append(bar);
      if (h > 0) {
        root.append(svg("line", { x1: cx, x2: cx, y1: y(v + h), y2: y(v - h), class: "errbar" }));
        root.append(svg("line", { x1: cx - 8, x2: cx + 8, y1: y(v + h), y2: y(v + h), class: "errbar" }));
        root.append(svg("line", { x1: cx - 8, x2: cx + 8, y1: y(v - h), y2: y(v - h), class: "errbar" }));
      }
      root.append(svg("text", { x: cx, y: H - B + 16, class: "tick", "text-anchor": "middle" }, short(label)));
      root.append(svg("text", { x: cx, y: H - B + 32, class: "tick muted", "text-anchor": "middle" },
        `±${DP.num(h)}`));
    });
    root.append(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis" }));
    return root;
  };

  // Lines: series = [{name, points: [[x, y], ...], dashed, step}], x as numbers (time in ms
  // when opts.time). opts.logX / opts.logY for ε curves; opts.mark = x of a vertical marker.
  DP.lines = function (container, series, opts = {}) {
    const W = 640, H = 260, L = 64, R = opts.legend ? 170 : 24, T = 16, B = 40;
    const root = frame(container, W, H, opts.title || "chart");
    const all = series.flatMap((s) => s.points);
    if (!all.length) {
      root.append(svg("text", { x: W / 2, y: H / 2, class: "tick", "text-anchor": "middle" },
        opts.empty || "Nothing yet."));
      return root;
    }
    const fx = opts.logX ? Math.log10 : (v) => v, fy = opts.logY ? Math.log10 : (v) => v;
    let xs = all.map((p) => fx(p[0])), ys = all.map((p) => fy(p[1]));
    let x0 = Math.min(...xs), x1 = Math.max(...xs), ya = Math.min(...ys), yb = Math.max(...ys);
    if (opts.until != null) x1 = Math.max(x1, fx(opts.until));
    if (opts.yMin != null) ya = Math.min(ya, fy(opts.yMin));
    if (opts.yMax != null) yb = Math.max(yb, fy(opts.yMax));
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (ya === yb) { ya -= 1; yb += 1; }
    const X = (v) => L + (W - L - R) * ((fx(v) - x0) / (x1 - x0));
    const Y = (v) => T + (H - T - B) * (1 - (fy(v) - ya) / (yb - ya));
    const yt = opts.logY ? decades(ya, yb) : nice(ya, yb);
    for (const t of yt) {
      const v = opts.logY ? 10 ** t : t;
      if (t < ya - 1e-9 || t > yb + 1e-9) continue;
      root.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
      root.append(svg("text", { x: L - 6, y: Y(v) + 4, class: "tick", "text-anchor": "end" },
        (opts.yFormat || DP.num)(v)));
    }
    const xt = opts.time ? timeTicks(x0, x1) : opts.logX ? (opts.xTicks || decades(x0, x1).map((t) => 10 ** t)) : nice(x0, x1);
    const span = x1 - x0;
    const stamp = (v) => {
      const iso = new Date(v).toISOString();
      return span < 36e5 ? iso.slice(11, 19) : span < 864e5 * 2 ? iso.slice(11, 16) : iso.slice(5, 10);
    };
    let previous = null;
    xt.forEach((v, k) => {
      if (fx(v) < x0 - 1e-9 || fx(v) > x1 + 1e-9) return;
      const text = opts.time ? stamp(v) : DP.num(v);
      if (text === previous) return;
      previous = text;
      const anchor = opts.time && k === xt.length - 1 ? "end" : opts.time && k === 0 ? "start" : "middle";
      root.append(svg("text", { x: X(v), y: H - B + 18, class: "tick", "text-anchor": anchor }, text));
    });
    if (opts.time) {
      root.append(svg("text", { x: W - R, y: H - 4, class: "tick muted", "text-anchor": "end" },
        `UTC, ${new Date(x0).toISOString().slice(0, 10)}${span > 864e5 ? " onwards" : ""}`));
    }
    if (opts.xLabel) root.append(svg("text", { x: (L + W - R) / 2, y: H - 6, class: "tick", "text-anchor": "middle" }, opts.xLabel));
    if (opts.yLabel) root.append(svg("text", { x: 12, y: T + (H - T - B) / 2, class: "tick", "text-anchor": "middle",
      transform: `rotate(-90 12 ${T + (H - T - B) / 2})` }, opts.yLabel));
    root.append(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    root.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    if (opts.mark != null) {
      root.append(svg("line", { x1: X(opts.mark), x2: X(opts.mark), y1: T, y2: H - B, class: "marker" }));
    }
    series.forEach((s, i) => {
      const color = s.color || COLORS[i % COLORS.length];
      let d = "";
      s.points.forEach((p, j) => {
        if (j && s.step) d += `H${X(p[0])}V${Y(p[1])}`;
        else d += `${j ? "L" : "M"}${X(p[0])},${Y(p[1])}`;
      });
      if (s.step && s.points.length && opts.until) d += `H${X(opts.until)}`;
      root.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2.2,
        "stroke-dasharray": s.dashed ? "6 4" : null, class: "series" }));
      for (const p of s.points) {
        const dot = svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: color });
        dot.append(svg("title", {}, `${s.name}: ${(opts.yFormat || DP.num)(p[1])}`));
        root.append(dot);
      }
      if (opts.legend) {
        const ly = T + 8 + i * 18;
        root.append(svg("line", { x1: W - R + 10, x2: W - R + 30, y1: ly, y2: ly, stroke: color,
          "stroke-width": 3, "stroke-dasharray": s.dashed ? "6 4" : null }));
        root.append(svg("text", { x: W - R + 36, y: ly + 4, class: "tick" }, short(s.name, 22)));
      }
    });
    return root;
  };
  function decades(a, b) {
    const out = [];
    for (let t = Math.floor(a); t <= Math.ceil(b); t++) out.push(t);
    return out;
  }
  function timeTicks(a, b) {
    const n = 4, out = [];
    for (let i = 0; i <= n; i++) out.push(a + ((b - a) * i) / n);
    return out;
  }

  // One horizontal strip per group: the stated 95 % band around the exact answer, the
  // exact answer as a line, and each noisy draw as a dot.
  // The x axis is the distance from the exact answer, ±scale, so that a wider spread at a
  // smaller ε shows as dots further from the line on the same axis.
  DP.strips = function (container, labels, exact, draws, half, { title = "", scale = 1 } = {}) {
    const rowH = 34, W = 640, L = 190, R = 24, T = 26, B = 40;
    const H = T + B + rowH * labels.length;
    const root = frame(container, W, H, title || "noisy draws around the exact answer");
    const lo = -scale, hi = scale;
    const X = (v) => L + (W - L - R) * ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo));
    root.append(svg("text", { x: L, y: 16, class: "ctitle" }, title));
    for (const t of nice(lo, hi, 6)) {
      if (t < lo || t > hi) continue;
      root.append(svg("line", { x1: X(t), x2: X(t), y1: T, y2: H - B, class: "grid" }));
      root.append(svg("text", { x: X(t), y: H - B + 16, class: "tick", "text-anchor": "middle" },
        t > 0 ? `+${DP.num(t)}` : DP.num(t)));
    }
    root.append(svg("text", { x: (L + W - R) / 2, y: H - 4, class: "tick muted", "text-anchor": "middle" },
      "distance of each noisy answer from the exact answer"));
    labels.forEach((label, i) => {
      const cy = T + rowH * (i + 0.5), v = exact[i], h = half[i] || 0;
      root.append(svg("text", { x: L - 8, y: cy + 4, class: "tick", "text-anchor": "end" },
        `${short(label, 14)} (exact ${typeof v === "number" ? DP.num(v, 6) : "–"})`));
      if (typeof v !== "number") return;
      root.append(svg("rect", { x: X(-h), y: cy - 10, width: Math.max(X(h) - X(-h), 1), height: 20, class: "band" }));
      draws.forEach((d, k) => {
        if (typeof d[i] !== "number") return;
        const dot = svg("circle", { cx: X(d[i] - v), cy: cy - 6 + (k % 5) * 3, r: 3.2, class: "draw" });
        dot.append(svg("title", {}, `a noisy answer: ${DP.num(d[i], 6)} (${d[i] >= v ? "+" : ""}${DP.num(d[i] - v)})`));
        root.append(dot);
      });
      root.append(svg("line", { x1: X(0), x2: X(0), y1: cy - 13, y2: cy + 13, class: "exact" }));
    });
    return root;
  };
})();
