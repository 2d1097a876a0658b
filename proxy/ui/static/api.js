// The one way the dashboard talks to dpsql: the JSON API, with the key from this tab's
// sessionStorage in the Authorization header. Errors become plain sentences; nothing
// the server did not put in `error.message` is ever shown.
"use strict";
const DP = (window.DP = {});

DP.KEY = "dpsql.key";
DP.key = () => sessionStorage.getItem(DP.KEY);
DP.$ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  get words() {
    const hint = {
      unauthenticated: "Check the key, or ask your data owner for a new one.",
      forbidden: "Your role cannot do this here.",
      budget_exhausted: "Nothing was run or charged.",
    }[this.code];
    return `${this.message}${hint ? " " + hint : ""}`;
  }
}
DP.ApiError = ApiError;

DP.api = async function (method, path, body, { raw = false } = {}) {
  const headers = { Accept: raw ? "text/csv" : "application/json" };
  const key = DP.key();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (_) {
    throw new ApiError(0, "network", "The dpsql server could not be reached. Is it running?");
  }
  if (response.ok) return raw ? response.blob() : response.json();
  let code = "internal";
  let message = `The server refused the request (HTTP ${response.status}).`;
  try {
    const data = await response.json();
    if (data && data.error && typeof data.error.message === "string") {
      code = String(data.error.code || code);
      message = data.error.message;
    }
  } catch (_) { /* not JSON: keep the generic sentence */ }
  throw new ApiError(response.status, code, message);
};

DP.query = (params) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) search.set(k, v);
  const text = search.toString();
  return text ? `?${text}` : "";
};

// ---- showing things ----
DP.el = function (tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child == null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

DP.fail = function (id, error) {
  const box = DP.$(id);
  box.hidden = false;
  box.textContent = error instanceof ApiError ? error.words
    : "Something went wrong in the page; reload it and try again.";
  if (error instanceof ApiError) box.dataset.code = error.code;
  if (!(error instanceof ApiError)) console.error(error);
};
DP.clear = (id) => { const box = DP.$(id); box.hidden = true; box.textContent = ""; };
DP.say = function (id, text) { const box = DP.$(id); box.hidden = false; box.textContent = text; };

// numbers in words
DP.num = function (x, digits = 3) {
  if (x == null || Number.isNaN(x)) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5) return Math.round(x).toLocaleString("en-US");
  if (a < 1e-3) return x.toExponential(1).replace(".0e", "e");
  return Number(x.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
};
DP.pct = function (share) {
  if (share == null) return "–";
  if (share === 0) return "0 %";
  const p = share * 100;
  if (p < 0.01) return "less than 0.01 %";
  // rounded up, as the API's sentences round shares: never shows less than was used
  return `${(Math.ceil(p * 100 - 1e-9) / 100).toFixed(2)} %`;
};
DP.count = (n) => (n >= 1e6 ? "a million or more" : Number(n).toLocaleString("en-US"));
DP.when = function (iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
};
// A grant given as a date runs through that day (UTC), so it is stored as the next
// midnight: show and edit it as the day it was given as.
DP.throughDay = function (iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  if (d.getUTCHours() || d.getUTCMinutes() || d.getUTCSeconds() || d.getUTCMilliseconds()) return null;
  return new Date(d.getTime() - 864e5).toISOString().slice(0, 10);
};
DP.expiry = function (iso) {
  if (!iso) return "never";
  const day = DP.throughDay(iso);
  return day ? `through ${day}` : `until ${DP.when(iso)}`;
};
DP.download = function (blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = DP.el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
};
// sortable tables: click a header to sort by it, click again to reverse
DP.table = function (table, columns, rows, { sortable = false, empty = "Nothing to show." } = {}) {
  table.replaceChildren();
  const head = DP.el("tr");
  columns.forEach((col, i) => {
    const th = DP.el("th", { scope: "col", title: col.title || null, class: col.cls || null }, col.label);
    if (sortable) {
      th.classList.add("sort");
      th.addEventListener("click", () => {
        const dir = table.dataset.sortCol === String(i) && table.dataset.sortDir === "asc" ? "desc" : "asc";
        table.dataset.sortCol = String(i);
        table.dataset.sortDir = dir;
        const key = col.sort || col.value;
        const sorted = [...rows].sort((a, b) => {
          const x = key(a), y = key(b);
          const c = x == null ? 1 : y == null ? -1 : x < y ? -1 : x > y ? 1 : 0;
          return dir === "asc" ? c : -c;
        });
        fill(sorted);
        table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
      });
    }
    head.append(th);
  });
  const body = DP.el("tbody");
  table.append(DP.el("thead", {}, head), body);
  function fill(list) {
    body.replaceChildren();
    if (!list.length) body.append(DP.el("tr", {}, DP.el("td", { colspan: columns.length, class: "muted" }, empty)));
    for (const row of list) {
      const tr = DP.el("tr");
      for (const col of columns) {
        const v = (col.show || col.value)(row);
        tr.append(DP.el("td", { class: col.cls || null }, v instanceof Node ? v : v == null ? "–" : String(v)));
      }
      body.append(tr);
    }
  }
  fill(rows);
};

// A spend series as chart points: starting from nothing spent just before the first
// charge, then the share used after each charge, in percent.
DP.fromZero = function (points) {
  const shown = points.filter((p) => p.share_used != null)
    .map((p) => [Date.parse(p.timestamp), p.share_used * 100]);
  if (shown.length) shown.unshift([shown[0][0] - 1000, 0]);
  return shown;
};
