// Signing in and showing the pages that fit the key's role. The key lives in this tab's
// sessionStorage only: never in the address bar, a cookie or local storage.
"use strict";
(function () {
  const { $, api, fail, clear } = DP;
  const ROLES = { analyst: DP.analyst, owner: DP.owner, compliance: DP.compliance };
  const ROLE_WORDS = { analyst: "analyst", owner: "data owner", compliance: "compliance" };

  DP.tab = function (name) {
    document.querySelectorAll(".tab").forEach((t) => {
      const on = t.dataset.tab === name;
      t.classList.toggle("active", on);
      t.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll(".tabpanel").forEach((p) => { p.hidden = p.id !== `tab-${name}`; });
    if (name === "sandbox" && !$("sb-out").dataset.loaded) {
      $("sb-out").dataset.loaded = "1";
      DP.analyst.sandboxLoad();
    }
  };

  function show(me) {
    $("signin").hidden = true;
    for (const role of Object.keys(ROLES)) $(role).hidden = role !== me.role;
    $("who").hidden = false;
    $("who-text").textContent = `${me.name} · ${ROLE_WORDS[me.role]}`;
    document.body.dataset.role = me.role;
    return ROLES[me.role].load();
  }

  function signedOut(message) {
    sessionStorage.removeItem(DP.KEY);
    for (const role of Object.keys(ROLES)) $(role).hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    delete document.body.dataset.role;
    if (message) { $("signin-error").hidden = false; $("signin-error").textContent = message; }
  }

  async function signIn(key) {
    clear("signin-error");
    sessionStorage.setItem(DP.KEY, key);
    try {
      const me = await api("GET", "/v1/me");
      await show(me);
    } catch (e) {
      signedOut();
      fail("signin-error", e);
    }
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("signin-key").value.trim();
    $("signin-key").value = "";
    if (key) signIn(key);
  });
  $("sign-out").addEventListener("click", () => signedOut());
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => DP.tab(t.dataset.tab)));
  for (const role of Object.values(ROLES)) role.wire();
  if (DP.key()) signIn(DP.key());
})();
