// The compliance page: chain and checkpoint verification, spend per analyst over time,
// and the ledger and attempts log as filtered, paginated tables with CSV export.
"use strict";
(function () {
  const { $, api, el, num, fail, clear } = DP;
  const C = (DP.compliance = {});
  const PAGE = 25;

  C.load = async function () {
    await options();
    await Promise.all([C.verify(), C.spend(), ledger.first(), attempts.first()]);
  };

  // The filters' choices come from the API's own OpenAPI document, not a copy here.
  async function options() {
    try {
      const [spec, list] = await Promise.all([api("GET", "/openapi.json"), api("GET", "/v1/admin/analysts")]);
      const described = (path, name) => {
        const p = (spec.paths[path].get.parameters || []).find((x) => x.name === name);
        return p && p.description ? p.description.split(",").map((s) => s.trim()).filter(Boolean) : [];
      };
      fill($("lf-kind"), described("/v1/ledger", "kind"));
      fill($("af-outcome"), described("/v1/ledger/attempts", "outcome"));
      const names = list.analysts.map((a) => a.name);
      fill($("lf-analyst"), names);
      fill($("af-analyst"), names.filter((n) => list.analysts.find((a) => a.name === n).role === "analyst"));
    } catch (e) { fail("ledger-error", e); }
  }
  function fill(select, values) {
    select.replaceChildren(el("option", { value: "" }, "any"), ...values.map((v) => el("option", { value: v }, v)));
  }

  C.verify = async function () {
    const status = $("verify-status");
    status.className = "status";
    status.textContent = "Checking…";
    try {
      const v = await api("GET", "/v1/ledger/verify");
      status.className = `status ${v.ok ? "ok" : "bad"}`;
      status.textContent = v.ok ? "✔ The ledger verifies: nothing in it was altered."
        : `✘ The ledger does NOT verify: ${v.reason || "see below"}`;
      const items = [
        `${v.entries.toLocaleString("en-US")} ledger entries; ${v.checked.toLocaleString("en-US")} rehashed and checked in order (hash chain).`,
        `${v.attempts.toLocaleString("en-US")} rows in the attempts log, hash-chained as well.`,
        `${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? "" : "s"} checked (in the database and in the file kept outside it).`,
        `Head of the chain: ${v.head.slice(0, 16)}… (a receipt kept elsewhere shows later whether anything was removed).`,
      ];
      if (v.first_bad != null) items.unshift(`First entry that fails: #${v.first_bad}.`);
      $("verify-details").replaceChildren(...items.map((t) => el("li", {}, t)));
    } catch (e) {
      status.className = "status bad";
      status.textContent = e.words || "The check could not run.";
    }
  };

  C.spend = async function () {
    try {
      const s = await api("GET", "/v1/ledger/spend");
      const series = s.analysts.filter((h) => h.points.length).map((h) => ({
        name: h.analyst, step: true,
        points: DP.fromZero(h.points),
      }));
      if (s.dataset.points.length && s.dataset.granted) {
        series.push({ name: "dataset (all)", step: true, dashed: true, color: "#444",
          points: DP.fromZero(s.dataset.points) });
      }
      DP.lines($("c-spend-chart"), series, { time: true, yMin: 0, legend: true, until: Date.now(),
        yFormat: (v) => `${num(v)} %`, title: "share of each grant used over time", empty: "No charges yet." });
    } catch (e) { fail("ledger-error", e); }
  };

  // A paginated, filtered listing: `after` cursors kept in a stack for "Previous".
  function listing({ path, form, fields, table, page, prev, next, csv, error, key, columns, filename }) {
    const state = { stack: [0], next: null };
    const filters = () => {
      const f = {};
      for (const [name, id] of Object.entries(fields)) {
        const v = $(id).value;
        if (!v) continue;
        f[name] = name === "until" || name === "since" ? `${v}T00:00:00+00:00` : v;
      }
      return f;
    };
    async function show() {
      clear(error);
      const after = state.stack[state.stack.length - 1];
      try {
        const data = await api("GET", `${path}${DP.query({ ...filters(), after: after || "", limit: PAGE })}`);
        const rows = data[key];
        state.next = data.next_after;
        DP.table($(table), columns, rows, { empty: "No entries match these filters." });
        $(page).textContent = rows.length ? `#${rows[0].seq} to #${rows[rows.length - 1].seq} · page ${state.stack.length}` : "no entries";
        $(prev).disabled = state.stack.length <= 1;
        $(next).disabled = state.next == null;
      } catch (e) { fail(error, e); }
    }
    const api_ = {
      first: () => { state.stack = [0]; return show(); },
    };
    $(form).addEventListener("submit", (e) => { e.preventDefault(); api_.first(); });
    $(next).addEventListener("click", () => { if (state.next != null) { state.stack.push(state.next); show(); } });
    $(prev).addEventListener("click", () => { if (state.stack.length > 1) { state.stack.pop(); show(); } });
    $(csv).addEventListener("click", async () => {
      clear(error);
      try {
        const blob = await api("GET", `${path}${DP.query({ ...filters(), format: "csv" })}`, undefined, { raw: true });
        DP.download(blob, filename);
      } catch (e) { fail(error, e); }
    });
    return api_;
  }

  const short = (s, n = 60) => (s && s.length > n ? s.slice(0, n - 1) + "…" : s || "");
  const exact = (x) => (x == null ? "" : x);

  const ledger = listing({
    path: "/v1/ledger", form: "ledger-filter", table: "ledger-table", page: "lf-page", prev: "lf-prev",
    next: "lf-next", csv: "lf-csv", error: "ledger-error", key: "entries", filename: "ledger.csv",
    fields: { analyst: "lf-analyst", kind: "lf-kind", since: "lf-since", until: "lf-until" },
    columns: [
      { label: "#", value: (e) => e.seq, cls: "num" },
      { label: "time", value: (e) => DP.when(e.timestamp), cls: "nowrap" },
      { label: "kind", value: (e) => e.kind },
      { label: "analyst", value: (e) => e.analyst },
      { label: "ε", value: (e) => exact(e.epsilon), cls: "num" },
      { label: "δ", value: (e) => exact(e.delta), cls: "num" },
      { label: "by", value: (e) => e.actor },
      { label: "query / reason", value: (e) => short(e.sql || e.reason), cls: "sql" },
    ],
  });
  const attempts = listing({
    path: "/v1/ledger/attempts", form: "attempts-filter", table: "attempts-table", page: "af-page", prev: "af-prev",
    next: "af-next", csv: "af-csv", error: "attempts-error", key: "attempts", filename: "attempts.csv",
    fields: { analyst: "af-analyst", outcome: "af-outcome", code: "af-code", since: "af-since", until: "af-until" },
    columns: [
      { label: "#", value: (a) => a.seq, cls: "num" },
      { label: "time", value: (a) => DP.when(a.timestamp), cls: "nowrap" },
      { label: "analyst", value: (a) => a.analyst },
      { label: "endpoint", value: (a) => a.endpoint },
      { label: "outcome", value: (a) => a.outcome + (a.code ? ` (${a.code})` : "") },
      { label: "ε charged", value: (a) => exact(a.epsilon), cls: "num" },
      { label: "SQL", value: (a) => short(a.sql), cls: "sql" },
    ],
  });

  C.wire = function () {
    $("verify-button").addEventListener("click", C.verify);
  };
})();
