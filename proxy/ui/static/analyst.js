// The analyst's page: budget as cumulative exposure, explain before paying, the noisy
// answer with its intervals, the sandbox's ε slider, and the tables one may query.
"use strict";
(function () {
  const { $, api, el, num, pct, count, fail, clear } = DP;
  const A = (DP.analyst = {});
  let explained = null; // the body last explained; Run sends exactly that
  let sandbox = null;   // {sql, min, max, delta, real}
  let drawSeq = 0;

  A.load = async function () {
    await Promise.all([A.budget(), A.tables()]);
  };

  A.budget = async function () {
    try {
      const [b, history] = await Promise.all([api("GET", "/v1/budget"), api("GET", "/v1/budget/history")]);
      const share = b.share_used;
      $("budget-fill").style.width = `${Math.min(100, (share || 0) * 100)}%`;
      $("budget-fill").classList.toggle("warn", share > 0.8);
      $("budget-share").textContent = pct(share);
      $("budget-summary").textContent = b.summary;
      $("budget-expiry").textContent = b.expires
        ? (b.expired ? `Your grant expired (it ran ${DP.expiry(b.expires)}): nothing more can be spent on it.`
          : `Your grant runs ${DP.expiry(b.expires)}; after that it spends nothing more.`)
        : "Your grant has no expiry date.";
      $("dataset-summary").textContent = b.dataset ? b.dataset.summary : "";
      const points = DP.fromZero(history.points);
      DP.lines($("spend-chart"), [{ name: "share of your budget used", points, step: true }], {
        time: true, yMin: 0, yFormat: (v) => `${num(v)} %`, until: Date.now(),
        title: "share of your budget used over time", empty: "No charges yet: nothing spent.",
      });
      const charged = history.points.length;
      $("spend-words").textContent = charged
        ? `${charged} charged ${charged === 1 ? "query" : "queries"} so far; after the last one, ${pct(share)} of your budget is used. Each step is one charge; the line never goes down.`
        : "No charged queries yet. Each charge will add a step; the line never goes down.";
    } catch (e) { fail("ask-error", e); }
  };

  function body(sqlId, epsId) {
    const b = { sql: $(sqlId).value };
    const eps = parseFloat($(epsId).value);
    if (!Number.isNaN(eps)) b.epsilon = eps;
    return b;
  }

  A.explain = async function () {
    clear("ask-error");
    $("run-button").disabled = true;
    $("explain-out").hidden = true;
    const request = body("ask-sql", "ask-epsilon");
    try {
      const x = await api("POST", "/v1/explain", request);
      explained = request;
      showExplain(x);
      $("run-button").disabled = !x.fits_budget;
      $("run-button").textContent = x.cached ? "Run (free: asked before)"
        : `Run and pay ε = ${num(x.charge.epsilon)}`;
    } catch (e) { fail("ask-error", e); }
  };

  function showExplain(x) {
    $("explain-out").hidden = false;
    const c = x.charge;
    const delta = c.delta ? `, δ = ${num(c.delta)}` : "";
    $("explain-cost").textContent = x.cached
      ? "You asked exactly this before: the same answer comes back, free of charge."
      : `This query would be charged ε = ${num(c.epsilon)}${delta}: ${pct(c.share)} of your budget` +
        (c.dataset_share != null ? ` and ${pct(c.dataset_share)} of the dataset-wide budget.` : ".");
    const more = $("explain-more");
    more.className = x.fits_budget ? "ok" : "bad";
    if (!x.fits_budget) {
      more.textContent = {
        analyst: "It does not fit your remaining budget: running it would be refused, and nothing would be charged.",
        dataset: "It does not fit the dataset-wide budget (all analysts together): a data owner would have to raise it.",
        expired: "Your grant has expired: nothing more can be spent on it.",
      }[x.blocked_by] || "It does not fit the remaining budget.";
    } else if (x.cached) {
      more.textContent = "It fits: a repeat costs nothing.";
    } else {
      more.textContent = `It fits. Your budgets allow about ${count(x.affordable)} ${x.affordable === 1 ? "query" : "queries"} like this one (this one included).`;
    }
    const list = $("explain-outputs");
    list.replaceChildren();
    for (const o of x.outputs) {
      if (o.kind === "group key") {
        list.append(el("li", {}, el("strong", {}, o.column), ": a group key" +
          (x.groups ? ` (${x.groups} groups, fixed before any data is read)` : "")));
        continue;
      }
      const pm = o.ci95_halfwidth != null ? `±${num(o.ci95_halfwidth)} at 95 %` : "interval per cell";
      list.append(el("li", {}, el("strong", {}, o.column), ` (${o.kind}): ${pm}. `,
        el("span", { class: "muted" }, o.words || "")));
    }
    $("explain-diagnostics").textContent = x.diagnostics_share
      ? `${pct(x.diagnostics_share)} of the charge measures how much the per-person caps and the declared bounds remove; the answer reports it in words.`
      : "This query measures nothing about what bounding removes.";
    const sql = x.rewritten_sql[x.engine_dialect] || Object.values(x.rewritten_sql)[0] || "";
    $("explain-sql").textContent = sql;
  }

  A.run = async function (request) {
    clear("ask-error");
    const req = request || explained;
    if (!req) return;
    $("run-button").disabled = true;
    try {
      const answer = await api("POST", "/v1/query", req);
      showAnswer(answer);
    } catch (e) { fail("ask-error", e); }
    await A.budget();
  };

  function measureColumn(answer) {
    const byName = Object.fromEntries(answer.accuracy.map((a) => [a.column, a]));
    const numeric = answer.columns.findIndex((c, i) => byName[c.name] &&
      answer.rows.every((r) => r[i] == null || typeof r[i] === "number"));
    const key = answer.columns.findIndex((c) => !byName[c.name]);
    return { byName, numeric, key };
  }

  function showAnswer(a) {
    $("result-out").hidden = false;
    const c = a.charged;
    $("result-charged").textContent = a.cached
      ? "Asked before: this is the first answer again, charged nothing."
      : `Charged ε = ${num(c.epsilon)}${c.delta ? `, δ = ${num(c.delta)}` : ""} (${pct(c.share)} of your budget). ${a.budget ? a.budget.summary : ""}`;
    const { byName, numeric, key } = measureColumn(a);
    const cols = a.columns.map((col, i) => {
      const acc = byName[col.name];
      return [{ label: col.name, value: (r) => r[i], show: (r) => (typeof r[i] === "number" ? num(r[i], 6) : r[i]), cls: typeof a.rows[0]?.[i] === "number" ? "num" : null },
        ...(acc ? [{ label: `${col.name} ± (95 %)`, value: (r) => halfOf(acc, a.rows.indexOf(r)),
          show: (r) => { const h = halfOf(acc, a.rows.indexOf(r)); return h == null ? "–" : `±${num(h)}`; }, cls: "num muted" }] : [])];
    }).flat();
    DP.table($("result-table"), cols, a.rows);
    const words = $("result-words");
    words.replaceChildren(...a.accuracy.map((acc) => el("li", {}, el("strong", {}, acc.column), ": ", acc.words || "")));
    $("result-bounding").textContent = a.bounding && a.bounding.words ? `What bounding removed: ${a.bounding.words}` : "";
    const chart = $("result-chart");
    chart.replaceChildren();
    if (numeric >= 0 && a.rows.length >= 1 && a.rows.length <= 40) {
      const acc = byName[a.columns[numeric].name];
      const labels = a.rows.map((r, i) => (key >= 0 ? r[key] : a.columns[numeric].name + (a.rows.length > 1 ? ` ${i + 1}` : "")));
      DP.bars(chart, labels.map(String), a.rows.map((r) => r[numeric] || 0),
        a.rows.map((_, i) => halfOf(acc, i) || 0),
        { column: a.columns[numeric].name, title: `${a.columns[numeric].name}, with 95 % error bars (noise only)` });
    }
  }
  function halfOf(acc, i) {
    if (!acc) return null;
    if (acc.ci95_halfwidths && acc.ci95_halfwidths[i] != null) return acc.ci95_halfwidths[i];
    return acc.ci95_halfwidth;
  }

  // ---- the sandbox ----
  const toEps = (pos) => {
    const e = Math.exp(Math.log(sandbox.min) + (pos / 1000) * (Math.log(sandbox.max) - Math.log(sandbox.min)));
    return Number(e.toPrecision(2));
  };
  const toPos = (eps) => Math.round((1000 * (Math.log(eps) - Math.log(sandbox.min))) / (Math.log(sandbox.max) - Math.log(sandbox.min)));

  A.sandboxLoad = async function () {
    clear("sb-error");
    const sql = $("sb-sql").value;
    try {
      const x = await api("POST", "/v1/sandbox/explain", { sql, epsilon: sandbox && sandbox.sql === sql ? sandbox.eps : undefined });
      const usable = x.epsilon_table.filter((r) => !r.refused);
      if (!usable.length) throw new DP.ApiError(400, "invalid_parameter", "No ε on the sandbox's grid is allowed for this query.");
      sandbox = { sql, scale: null, min: usable[0].epsilon, max: usable[usable.length - 1].epsilon, eps: x.asked_epsilon };
      $("sb-min").textContent = `ε = ${num(sandbox.min)} (more private)`;
      $("sb-max").textContent = `ε = ${num(sandbox.max)} (more precise)`;
      $("sb-out").hidden = false;
      $("sb-notice").textContent = x.notice;
      sandbox.plot = x.plot[0] || null;
      if (!sandbox.plot) $("sb-curve").textContent = "This query has no noisy number to plot.";
      $("sb-slider").value = String(toPos(x.asked_epsilon));
      A.sandboxMoved();
      await A.sandboxDraw();
    } catch (e) { fail("sb-error", e); }
  };

  // the ε → error curve, with the slider's ε marked on it
  function drawCurve(eps) {
    const plot = sandbox.plot;
    if (!plot) return;
    DP.lines($("sb-curve"), [
      { name: `${plot.column}: stated ±95 %`, points: plot.epsilon.map((e, i) => [e, plot.ci95_halfwidth[i]]).filter((p) => p[1] > 0) },
      { name: "observed (95th pct)", dashed: true, points: plot.epsilon.map((e, i) => [e, plot.observed_error95[i]]).filter((p) => p[1] > 0) },
    ], { logX: true, logY: true, xTicks: plot.epsilon, legend: true, mark: eps,
      xLabel: "ε (log scale)", yLabel: "error (log)", title: "ε → error on the twin" });
  }

  A.sandboxMoved = function () {
    if (!sandbox) return;
    const eps = toEps(+$("sb-slider").value);
    sandbox.eps = eps;
    drawCurve(eps);
    $("sb-eps").textContent = num(eps);
    const ratio = Math.exp(eps);
    const posterior = ratio / (1 + ratio);
    $("sb-odds").replaceChildren(
      el("strong", {}, `ε = ${num(eps)} as odds`),
      el("p", {}, `Whatever answer comes out, it is at most e^ε ≈ ${ratio.toFixed(ratio < 10 ? 2 : 1)} times more likely ` +
        "(or less likely) with any one person's data in the table than without it."),
      el("p", {}, `So an observer who thought there was a 50 % chance that someone is in the data could, after ` +
        `seeing the answer, believe at most ${(posterior * 100).toFixed(1)} %. Every further answer adds to this: ε adds up across queries.`),
      sandbox.delta ? el("p", { class: "muted" }, `Except with a tiny probability δ = ${num(sandbox.delta)}.`) : "");
  };

  A.sandboxDraw = async function () {
    if (!sandbox) return;
    const seq = ++drawSeq;
    const eps = sandbox.eps;
    try {
      const r = await api("POST", "/v1/sandbox/query", { sql: sandbox.sql, epsilon: eps, draws: 20 });
      if (seq !== drawSeq) return; // a later move already asked
      sandbox.real = r.real;
      sandbox.delta = r.real && r.real.promote ? r.real.promote.delta : null;
      A.sandboxMoved();
      const { byName, numeric, key } = measureColumn({ columns: r.columns, rows: r.exact_rows, accuracy: r.accuracy });
      if (numeric < 0) { $("sb-draws").textContent = "This query has no noisy number to draw."; return; }
      const acc = byName[r.columns[numeric].name];
      const exact = r.exact_rows.map((row) => row[numeric]);
      const draws = r.draws.map((d) => d.rows.map((row) => row[numeric]));
      const half = exact.map((_, i) => halfOf(acc, i) || 0);
      const labels = r.exact_rows.map((row, i) => (key >= 0 ? String(row[key]) : `${r.columns[numeric].name} ${i + 1}`));
      let spread = 0;
      draws.forEach((d) => d.forEach((v, i) => { if (typeof v === "number" && typeof exact[i] === "number") spread = Math.max(spread, Math.abs(v - exact[i])); }));
      const widest = Math.max(...half);
      // the axis stays put while the slider moves, so the spread is seen to change;
      // it is redrawn only when the dots would overflow it or shrink to a speck
      const want = 1.15 * Math.max(spread, widest, 1e-9);
      if (!sandbox.scale || want > sandbox.scale || want < sandbox.scale / 6) sandbox.scale = want;
      DP.strips($("sb-draws"), labels, exact, draws, half, { scale: sandbox.scale,
        title: `${r.columns[numeric].name}: 20 noisy answers at ε = ${num(eps)} (synthetic people)` });
      const line = $("sb-spread");
      line.dataset.halfwidth = String(widest);
      line.dataset.spread = String(spread);
      line.dataset.epsilon = String(eps);
      line.textContent = `At ε = ${num(eps)}, 20 noisy answers landed up to ±${num(spread)} from the twin's exact ${r.columns[numeric].name}; ` +
        `the stated 95 % interval is ±${num(widest)} (widest group).`;
      $("sb-bounding").textContent = r.bounding && r.bounding.words
        ? `On the twin, bounding would remove: ${r.bounding.words} (this is about the twin's invented rows, not the real data).` : "";
      const real = r.real;
      $("sb-draws-words").textContent = "Each dot is one noisy answer the twin could give at this ε, drawn at its distance " +
        "from the twin's exact answer (the dark line); the shaded band is the stated 95 % interval.";
      $("sb-cost").textContent = real.fits_budget
        ? `For real, this would be charged ε = ${num(real.charge.epsilon)} (${pct(real.charge.share)} of your budget); about ${count(real.affordable)} queries like it fit.`
        : "For real, this would not fit your remaining budget.";
      $("sb-promote").disabled = !real.fits_budget;
      $("sb-promote").textContent = `Run this for real at ε = ${num(real.promote.epsilon)} (charged)`;
    } catch (e) { if (seq === drawSeq) fail("sb-error", e); }
  };

  A.promote = async function () {
    if (!sandbox || !sandbox.real) return;
    const req = sandbox.real.promote;
    DP.tab("ask");
    $("ask-sql").value = req.sql;
    $("ask-epsilon").value = String(req.epsilon);
    await A.run(req);
  };

  // ---- tables ----
  A.tables = async function () {
    try {
      const t = await api("GET", "/v1/tables");
      $("tables-list").replaceChildren(...t.tables.map(tableCard));
    } catch (e) { fail("ask-error", e); }
  };
  function tableCard(t) {
    const facts = t.public ? "Public table: holds no personal data; free to read and join."
      : `Private table. Protected person: ${t.privacy_unit}. Each person counts in at most ${t.max_rows_per_unit} ` +
        `row${t.max_rows_per_unit === 1 ? "" : "s"} and ${t.max_groups_per_unit} group${t.max_groups_per_unit === 1 ? "" : "s"} per query.`;
    const table = el("table", { class: "data" });
    DP.table(table, [
      { label: "column", value: (c) => c.name },
      { label: "type", value: (c) => c.type },
      { label: "bounds (values are clamped to these)", value: (c) => (c.lower != null ? `${num(c.lower)} to ${num(c.upper)}` : "") },
      { label: "GROUP BY", value: (c) => (t.public ? "yes (public table)" : c.groupable ? (c.public_keys ? "yes (public keys)" : "with δ > 0") : "no") },
      { label: "public keys", value: (c) => (c.public_keys ? c.public_keys.slice(0, 12).join(", ") + (c.public_keys.length > 12 ? " …" : "") : "") },
    ], t.columns);
    return el("div", { class: "tcard" }, el("h3", {}, t.name), el("p", { class: "muted" }, facts), el("div", { class: "tablewrap" }, table));
  }

  A.wire = function () {
    $("explain-button").addEventListener("click", A.explain);
    for (const id of ["ask-sql", "ask-epsilon"]) {
      // Run sends exactly what was explained: an edit asks for a new explain first
      $(id).addEventListener("input", () => { $("run-button").disabled = true; explained = null; });
    }
    $("run-button").addEventListener("click", () => A.run());
    $("sb-load").addEventListener("click", A.sandboxLoad);
    let timer = null;
    $("sb-slider").addEventListener("input", () => {
      A.sandboxMoved();
      clearTimeout(timer);
      timer = setTimeout(A.sandboxDraw, 200);
    });
    $("sb-promote").addEventListener("click", A.promote);
  };
})();
