// The data owner's page: the dataset-wide budget, analysts with their grants, spend and
// expiry (sortable), granting and changing budgets, tables with bounds, and the bounds
// assistant. Every change goes through the owner API and is a ledger entry.
"use strict";
(function () {
  const { $, api, el, num, pct, fail, clear, say } = DP;
  const O = (DP.owner = {});
  let analysts = [];

  O.load = async function () {
    await Promise.all([O.analysts(), O.dataset(), O.tables()]);
  };

  O.dataset = async function () {
    try {
      const d = await api("GET", "/v1/admin/budget");
      if (!d.granted) {
        $("ds-words").textContent = "No dataset-wide budget is set: only each analyst's own grant limits what is learned.";
        $("ds-fill").style.width = "0";
        return;
      }
      $("ds-fill").style.width = `${Math.min(1, d.share_used || 0) * 100}%`;
      $("ds-words").textContent = `${d.summary} ε ≈ ${num(d.remaining ? d.remaining.epsilon : 0)} remains.`;
      if (!$("ds-epsilon").value) $("ds-epsilon").value = String(d.granted.epsilon);
      if (!$("ds-delta").value) $("ds-delta").value = String(d.granted.delta);
    } catch (e) { fail("owner-error", e); }
  };

  O.analysts = async function () {
    try {
      const list = await api("GET", "/v1/admin/analysts");
      analysts = list.analysts;
      const select = $("grant-analyst");
      const chosen = select.value;
      select.replaceChildren(...analysts.filter((a) => a.role === "analyst")
        .map((a) => el("option", { value: a.name, selected: a.name === chosen }, a.name)));
      DP.table($("analysts-table"), [
        { label: "name", value: (a) => a.name },
        { label: "role", value: (a) => a.role },
        { label: "granted ε", value: (a) => (a.granted ? a.granted.epsilon : null), show: (a) => (a.granted ? num(a.granted.epsilon) : "–"), cls: "num" },
        { label: "spent ε", value: (a) => a.spent.epsilon, show: (a) => num(a.spent.epsilon), cls: "num" },
        { label: "remaining ε", value: (a) => a.remaining.epsilon, show: (a) => num(a.remaining.epsilon), cls: "num" },
        { label: "own grant used", value: (a) => a.share_used, show: (a) => (a.role === "analyst" ? pct(a.share_used) : "–"), cls: "num",
          title: "part of the analyst's own grant used; it never refills" },
        { label: "of all spending", value: (a) => a.share_of_dataset, show: (a) => pct(a.share_of_dataset), cls: "num",
          title: "part of everything all analysts spent" },
        { label: "expires", value: (a) => a.expires || "9999", show: (a) => (a.role === "analyst" || a.expires ? DP.expiry(a.expires) : "–") },
        { label: "status", value: (a) => (a.disabled ? "disabled" : "active") },
        { label: "", value: () => "", show: actions },
      ], analysts, { sortable: true });
    } catch (e) { fail("owner-error", e); }
  };

  function actions(a) {
    const box = el("span", { class: "actions" });
    if (a.role === "analyst") {
      box.append(el("button", { type: "button", class: "ghost small", onclick: () => pick(a), title: "edit this analyst's grant in the form above" }, "Grant…"));
    }
    box.append(el("button", { type: "button", class: "ghost small", onclick: () => toggle(a) }, a.disabled ? "Enable" : "Disable"));
    return box;
  }
  function pick(a) {
    $("grant-analyst").value = a.name;
    if (a.granted) { $("grant-epsilon").value = String(a.granted.epsilon); $("grant-delta").value = String(a.granted.delta); }
    $("grant-expires").value = a.expires ? DP.throughDay(a.expires) || a.expires.slice(0, 10) : "";
    $("grant-reason").focus();
  }
  async function toggle(a) {
    clear("owner-error");
    const reason = a.disabled ? "re-enabled from the dashboard" : "disabled from the dashboard";
    try {
      await api("PATCH", `/v1/admin/analysts/${encodeURIComponent(a.name)}`, { disabled: !a.disabled, reason });
      await O.analysts();
    } catch (e) { fail("owner-error", e); }
  }

  O.grant = async function (event) {
    event.preventDefault();
    clear("grant-msg");
    const name = $("grant-analyst").value;
    const body = { epsilon: parseFloat($("grant-epsilon").value), delta: parseFloat($("grant-delta").value),
      reason: $("grant-reason").value };
    const expires = $("grant-expires").value;
    body.expires = expires || null;
    try {
      const info = await api("PATCH", `/v1/admin/analysts/${encodeURIComponent(name)}/budget`, body);
      const box = $("grant-msg");
      box.className = "msg ok";
      say("grant-msg", `Saved: ${info.name} now holds ε = ${num(info.granted.epsilon)}, δ = ${num(info.granted.delta)}` +
        `${info.expires ? `, ${DP.expiry(info.expires)}` : ", with no expiry"}; ${pct(info.share_used)} of it is used. Recorded in the ledger.`);
      await Promise.all([O.analysts(), O.dataset()]);
    } catch (e) {
      $("grant-msg").className = "msg error";
      fail("grant-msg", e);
    }
  };

  O.setDataset = async function (event) {
    event.preventDefault();
    clear("ds-msg");
    const body = { epsilon: parseFloat($("ds-epsilon").value), delta: parseFloat($("ds-delta").value), reason: $("ds-reason").value };
    try {
      await api("PATCH", "/v1/admin/budget", body);
      $("ds-msg").className = "msg ok";
      say("ds-msg", `Saved: the dataset-wide budget is ε = ${num(body.epsilon)}, δ = ${num(body.delta)}. Recorded in the ledger.`);
      await O.dataset();
    } catch (e) {
      $("ds-msg").className = "msg error";
      fail("ds-msg", e);
    }
  };

  O.tables = async function () {
    try {
      const t = await api("GET", "/v1/tables");
      const docs = await Promise.all(t.tables.map((x) => api("GET", `/v1/admin/tables/${encodeURIComponent(x.name)}`)));
      $("owner-tables").replaceChildren(...t.tables.map((x, i) => tableCard(x, docs[i])));
    } catch (e) { fail("owner-error", e); }
  };

  function tableCard(t, doc) {
    const table = el("table", { class: "data" });
    const cols = doc.columns || {};
    DP.table(table, [
      { label: "column", value: (c) => c.name },
      { label: "type", value: (c) => c.type },
      { label: "lower", value: (c) => c.lower, show: (c) => (c.lower != null ? num(c.lower) : ""), cls: "num" },
      { label: "upper", value: (c) => c.upper, show: (c) => (c.upper != null ? num(c.upper) : ""), cls: "num" },
      { label: "group key", value: (c) => (t.public ? "yes (public table)" : c.name === t.privacy_unit ? "no: the protected person" : c.groupable ? (c.public_keys ? "public keys" : "δ > 0 only") : "no") },
      { label: "public keys", value: (c) => (c.public_keys ? c.public_keys.slice(0, 10).join(", ") + (c.public_keys.length > 10 ? " …" : "") : keysFrom(cols[c.name])) },
    ], t.columns);
    const facts = t.public ? "Public: no personal data, free to read and join."
      : `Protected person (privacy unit): ${t.privacy_unit}. Caps per person: ${t.max_rows_per_unit} row(s), ${t.max_groups_per_unit} group(s). ` +
        `Values outside the bounds are clamped to them.`;
    const card = el("div", { class: "tcard" }, el("h3", {}, t.name), el("p", { class: "muted" }, facts), el("div", { class: "tablewrap" }, table));
    if (!t.public) card.append(assistant(t.name));
    return card;
  }
  function keysFrom(spec) {
    const k = spec && spec.public_keys;
    return k && !Array.isArray(k) ? `from ${k.table}.${k.column}` : "";
  }

  function assistant(name) {
    const eps = el("input", { type: "number", step: "any", min: "0.01", value: "0.5", "aria-label": `ε for the bounds assistant on ${name}` });
    const out = el("div", { class: "suggest" });
    const run = async () => {
      out.replaceChildren();
      const epsilon = parseFloat(eps.value);
      if (!window.confirm(`The bounds assistant reads the real data of ${name} with noise and spends ε = ${epsilon} of the dataset-wide budget. Go ahead?`)) return;
      try {
        const s = await api("POST", `/v1/admin/tables/${encodeURIComponent(name)}/suggest`, { epsilon, reason: "bounds assistant from the dashboard" });
        out.append(el("p", {}, `Charged ε = ${num(s.charged.epsilon)} of the dataset-wide budget.`),
          el("ul", { class: "words" }, ...s.proposals.map((p) => el("li", {}, el("strong", {}, p.setting), `: ${JSON.stringify(p.current)} → ${JSON.stringify(p.proposed)}. `, p.words))),
          ...s.notes.map((n) => el("p", { class: "muted" }, n)),
          el("button", { type: "button", onclick: async () => {
            try {
              await api("PATCH", `/v1/admin/tables/${encodeURIComponent(name)}${DP.query({ reason: "bounds assistant proposal applied from the dashboard" })}`, s.patch);
              out.append(el("p", { class: "ok" }, "Applied and recorded in the ledger."));
              await O.tables();
            } catch (e) { out.append(el("p", { class: "error" }, e.words || "could not apply")); }
          } }, "Apply these proposals"));
      } catch (e) { out.append(el("p", { class: "error" }, e.words || "the assistant failed")); }
    };
    return el("div", { class: "assist" }, el("strong", {}, "Bounds assistant "),
      el("span", { class: "muted" }, "proposes caps and bounds from DP quantiles of the data, paid from the dataset-wide budget. ε: "),
      eps, el("button", { type: "button", class: "ghost small", onclick: run }, "Suggest"), out);
  }

  O.add = async function (event) {
    event.preventDefault();
    clear("add-msg");
    const role = $("add-role").value;
    const reason = $("add-reason").value || "added from the dashboard";
    const body = { name: $("add-name").value.trim(), role, reason };
    if (role === "analyst") {
      body.budget = { epsilon: parseFloat($("add-epsilon").value), delta: parseFloat($("add-delta").value), reason };
    }
    try {
      const made = await api("POST", "/v1/admin/analysts", body);
      const box = $("add-msg");
      box.className = "msg ok";
      box.hidden = false;
      box.replaceChildren(`${made.name} (${made.role}) was added. Their API key, shown only this once: `,
        el("code", { id: "add-key" }, made.api_key));
      $("add-name").value = "";
      await O.analysts();
    } catch (e) {
      $("add-msg").className = "msg error";
      fail("add-msg", e);
    }
  };

  O.wire = function () {
    $("add-form").addEventListener("submit", O.add);
    $("grant-form").addEventListener("submit", O.grant);
    $("ds-form").addEventListener("submit", O.setDataset);
  };
})();
