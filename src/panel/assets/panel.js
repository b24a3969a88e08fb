// The API Keys panel: talks to the keygate admin API with an admin key kept in
// sessionStorage. Every value from the API is written with textContent, never as markup.
"use strict";

(() => {
  const app = document.getElementById("app");
  const ADMIN_PATH = app.dataset.adminPath;
  const EXAMPLE_URL = new URL(app.dataset.examplePath, window.location.origin).href;
  const STORAGE_KEY = "keygate.adminKey";

  // The scopes offered as checkboxes, with what each grants (the documentation's table).
  const SCOPES = [
    ["read:all", "Read access to all resources (users, projects, records, settings) across the workspace"],
    ["write:all", "Create and update access to all non-administrative resources"],
    ["admin", "Full access including team management, billing, and API key administration"],
  ];
  const OFFERED = SCOPES.map(([scope]) => scope);

  const $ = (id) => document.getElementById(id);
  let keys = [];
  // Where the focus goes once the list is drawn again after an action: the same action's
  // button on the key's row (the old one is gone), else the list's heading.
  let focusAfterRender = null;

  // ---- small DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function say(message) {
    const status = $("status");
    status.textContent = message;
    show(status, true);
  }

  // ---- the admin API ------------------------------------------------------------------------

  function adminKey() {
    return window.sessionStorage.getItem(STORAGE_KEY);
  }

  // The id of the key signed in with: keys read `<prefix>_<id>_<secret>`.
  function ownKeyId() {
    const parts = (adminKey() || "").split("_");
    return parts.length > 2 ? parts[1] : null;
  }

  async function api(method, path, body, key = adminKey()) {
    const headers = { Authorization: `Bearer ${key || ""}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${ADMIN_PATH}${path}`, init);
    } catch (error) {
      return { ok: false, status: 0, data: { title: "Network error", detail: `The admin API could not be reached: ${error.message}` } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = { title: response.statusText || "Error", detail: `The admin API answered ${response.status} without a JSON body.` };
    }
    return { ok: response.ok, status: response.status, data };
  }

  // Every key of the workspace: GET /keys a page at a time, following `next` to the end.
  // The answer of the first page that fails, or every key in `data.keys`.
  async function loadKeys(key = adminKey()) {
    const all = [];
    let after = null;
    for (;;) {
      const query = after ? `?limit=500&after=${encodeURIComponent(after)}` : "?limit=500";
      const answer = await api("GET", `/keys${query}`, undefined, key);
      if (!answer.ok) return answer;
      all.push(...(answer.data.keys || []));
      after = answer.data.next;
      if (!after) return { ok: true, status: answer.status, data: { keys: all } };
    }
  }

  // A refusal: the problem's title, detail, fix and per-field errors, all as text.
  // `placed`: the errors already shown beside their fields, left out of the list here.
  function renderProblem(container, answer, lead, placed = []) {
    const p = answer.data || {};
    container.replaceChildren();
    const heading = el("p", { class: "problem-title" }, lead || p.title || "The request was refused");
    if (answer.status) heading.append(el("span", { class: "code" }, ` ${answer.status}${p.code ? ` ${p.code}` : ""}`));
    container.append(heading);
    const rest = Array.isArray(p.errors) ? p.errors.filter((e) => !placed.includes(e)) : [];
    // The detail of a validation refusal lists the field errors: when each is shown beside
    // its field already, point there instead of saying it twice.
    if (placed.length && !rest.length) container.append(el("p", {}, `Correct the ${placed.length > 1 ? "fields" : "field"} marked above and try again.`));
    else if (p.detail) container.append(el("p", {}, p.detail));
    if (p.fix) container.append(el("p", { class: "fix" }, el("strong", {}, "Fix: "), p.fix));
    if (rest.length) {
      const list = el("ul", {});
      for (const e of rest) list.append(el("li", {}, e.field ? `${e.field}: ${e.message}` : e.message));
      container.append(list);
    }
    show(container, true);
  }

  function clearProblem(container) {
    container.replaceChildren();
    show(container, false);
  }

  // Puts each per-field error beside its field; returns the errors placed.
  function renderFieldErrors(form, answer, fields) {
    for (const [, node] of Object.entries(fields)) clearFieldError(node);
    const data = answer.data || {};
    // A taken name is a refusal of the name field too, though the API sends no field list.
    const errors = data.errors || (data.code === "name_taken" ? [{ field: "name", message: data.detail }] : []);
    const placed = [];
    for (const e of errors) {
      const field = (e.field || "").replace(/\[\d+\]$/, "");
      const target = fields[field];
      if (!target) continue;
      target.textContent = e.message;
      show(target, true);
      const input = form.querySelector(`[aria-describedby~="${target.id}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      placed.push(e);
    }
    return placed;
  }

  function clearFieldError(node) {
    node.textContent = "";
    show(node, false);
    const input = document.querySelector(`[aria-describedby~="${node.id}"]`);
    if (input) input.removeAttribute("aria-invalid");
  }

  // A 401 from the admin API means the stored admin key no longer works.
  function signOutIfRefused(answer) {
    if (answer.status !== 401) return false;
    signOut();
    renderProblem($("sign-in-problem"), answer, "Your admin key was refused");
    return true;
  }

  // ---- signing in ---------------------------------------------------------------------------

  function showSignedIn(signedIn) {
    show($("sign-in"), !signedIn);
    show($("keys"), signedIn);
    show($("sign-out"), signedIn);
  }

  function signOut() {
    window.sessionStorage.removeItem(STORAGE_KEY);
    keys = [];
    $("keys-body").replaceChildren();
    show($("status"), false);
    clearProblem($("page-problem"));
    showSignedIn(false);
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("admin-key");
    const key = input.value.trim();
    const problem = $("sign-in-problem");
    clearProblem(problem);
    if (!key) {
      renderProblem(problem, { status: 0, data: { detail: "Paste a key with the admin scope." } }, "No admin key given");
      input.focus();
      return;
    }
    const answer = await loadKeys(key);
    if (!answer.ok) {
      const lead = answer.status === 401 ? "That admin key was refused"
        : answer.status === 403 ? "That key does not have the admin scope"
        : "Could not sign in";
      renderProblem(problem, answer, lead);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.value = "";
    input.removeAttribute("aria-invalid");
    window.sessionStorage.setItem(STORAGE_KEY, key);
    showSignedIn(true);
    renderKeys(answer.data.keys || []);
    $("keys-title").focus();
  }

  // ---- the key list -------------------------------------------------------------------------

  function formatTime(text, none) {
    if (!text) return el("span", { class: "muted" }, none);
    // 2026-11-29T03:27:05Z: the date, then the time to the minute (a line of its own in the table).
    const [date, time] = text.split("T");
    return el("time", { datetime: text, title: text }, date, el("span", { class: "clock" }, ` ${time.slice(0, 5)} UTC`));
  }

  function scopeBadges(scopes) {
    const list = el("ul", { class: "badges", "aria-label": "Scopes" });
    for (const scope of scopes) list.append(el("li", { class: "badge" }, scope));
    return list;
  }

  function actionButton(label, key, action, variant) {
    const button = el("button", { type: "button", class: `button small ${variant}`, "aria-label": `${label} ${key.name}` }, label);
    button.addEventListener("click", () => {
      focusAfterRender = `tr[data-key-id="${CSS.escape(key.id)}"] [aria-label="${CSS.escape(`${label} ${key.name}`)}"]`;
      action(key, button);
    });
    return button;
  }

  function restoreFocus() {
    if (!focusAfterRender || document.querySelector("dialog[open]")) return;
    const target = document.querySelector(focusAfterRender) || $("keys-title");
    focusAfterRender = null;
    target.focus();
  }

  function renderKeys(list) {
    keys = list;
    // Every key listed is of the signed-in key's workspace; the signed-in key is among them.
    const own = list.find((key) => key.id === ownKeyId());
    $("workspace-name").textContent = own ? own.workspace : "";
    const body = $("keys-body");
    body.replaceChildren();
    show($("keys-empty"), list.length === 0);
    show($("keys-table"), list.length > 0);
    for (const key of list) {
      const actions = el("div", { class: "row-actions" });
      if (key.status === "revoked") {
        actions.append(el("span", { class: "muted" }, "Revoked ", formatTime(key.revoked_at, "")));
      } else {
        actions.append(
          actionButton("Edit scopes", key, openEdit, "subtle"),
          actionButton("Rotate", key, openRotate, "subtle"),
          key.disabled_at
            ? actionButton("Enable", key, enable, "subtle")
            : actionButton("Disable", key, disable, "subtle"),
          actionButton("Revoke", key, openRevoke, "danger-subtle"),
        );
      }
      actions.append(actionButton("Delete", key, openDelete, "danger-subtle"));
      const status = el("span", { class: `status status-${key.status}` }, key.status);
      const name = el("td", { "data-label": "Name", class: "name" }, el("strong", {}, key.name), el("span", { class: "id" }, key.id));
      if (key.id === ownKeyId()) name.append(el("span", { class: "own" }, "Signed in with this key"));
      if (key.allowed_ips && key.allowed_ips.length) {
        // Read-only here: the allowlist is set through the admin API or the CLI.
        name.append(el("span", { class: "hint allowed-ips" }, `Only from ${key.allowed_ips.join(", ")}`));
      }
      if (key.previous_secret_valid_until) {
        name.append(el("span", { class: "hint" }, "Old secret valid until ", formatTime(key.previous_secret_valid_until, "")));
      }
      body.append(el("tr", { "data-key-id": key.id, "data-key-name": key.name },
        name,
        el("td", { "data-label": "Scopes" }, scopeBadges(key.scopes)),
        el("td", { "data-label": "Status" }, status),
        el("td", { "data-label": "Created" }, formatTime(key.created_at, "")),
        el("td", { "data-label": "Last used" }, formatTime(key.last_used_at, "Never")),
        el("td", { "data-label": "Expires" }, formatTime(key.expires_at, "Never")),
        el("td", { class: "actions-cell" }, actions),
      ));
    }
  }

  async function refresh() {
    const answer = await loadKeys();
    if (signOutIfRefused(answer)) return false;
    if (!answer.ok) {
      renderProblem($("page-problem"), answer, "Could not load the keys");
      return false;
    }
    clearProblem($("page-problem"));
    renderKeys(answer.data.keys || []);
    restoreFocus();
    return true;
  }

  // ---- scope checkboxes ---------------------------------------------------------------------

  // Builds the three checkboxes in `group`; ticking admin shows the other two as included.
  function buildScopeChoices(group, prefix) {
    group.replaceChildren();
    for (const [scope, grants] of SCOPES) {
      const id = `${prefix}-scope-${scope.replace(":", "-")}`;
      const input = el("input", { type: "checkbox", id, value: scope, "aria-describedby": `${id}-desc` });
      const included = el("span", { class: "included", id: `${id}-included` }, "Included in admin");
      included.hidden = true;
      group.append(el("div", { class: "choice" },
        input,
        el("div", {},
          el("label", { for: id }, el("code", {}, scope), " ", included),
          el("p", { class: "hint", id: `${id}-desc` }, grants)),
      ));
    }
    const admin = group.querySelector('input[value="admin"]');
    admin.addEventListener("change", () => syncAdmin(group));
  }

  function syncAdmin(group) {
    const admin = group.querySelector('input[value="admin"]').checked;
    for (const input of group.querySelectorAll('input[type="checkbox"]')) {
      if (input.value === "admin") continue;
      if (admin) {
        input.dataset.own = input.checked ? "1" : "";
        input.checked = true;
      } else if ("own" in input.dataset) {
        input.checked = input.dataset.own === "1";
        delete input.dataset.own;
      }
      input.disabled = admin;
      $(`${input.id}-included`).hidden = !admin;
    }
  }

  function setScopeChoices(group, scopes) {
    for (const input of group.querySelectorAll('input[type="checkbox"]')) {
      input.disabled = false;
      delete input.dataset.own;
      input.checked = scopes.includes(input.value);
      $(`${input.id}-included`).hidden = true;
    }
    syncAdmin(group);
  }

  // The scopes chosen: admin alone when admin is ticked (it includes the others).
  function chosenScopes(group) {
    const ticked = [...group.querySelectorAll('input[type="checkbox"]')].filter((i) => i.checked).map((i) => i.value);
    return ticked.includes("admin") ? ["admin"] : ticked;
  }

  // ---- dialogs ------------------------------------------------------------------------------

  function openDialog(dialog) {
    clearProblem(dialog.querySelector("[data-problem]"));
    for (const error of dialog.querySelectorAll(".field-error")) clearFieldError(error);
    dialog.showModal();
  }

  function busy(form, isBusy) {
    for (const button of form.querySelectorAll("button")) button.disabled = isBusy;
  }

  async function submit(dialog, request) {
    const form = dialog.querySelector("form");
    busy(form, true);
    try {
      return await request();
    } finally {
      busy(form, false);
    }
  }

  // An action's refusal, shown in its dialog under `lead`.
  function refused(dialog, answer, lead, fields) {
    if (signOutIfRefused(answer)) {
      dialog.close();
      return;
    }
    const form = dialog.querySelector("form");
    const placed = renderFieldErrors(form, answer, fields || {});
    renderProblem(dialog.querySelector("[data-problem]"), answer, lead, placed);
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
  }

  // Create.
  function openCreate() {
    focusAfterRender = "#open-create";
    const form = $("create-form");
    form.reset();
    setScopeChoices(form.querySelector("[data-scope-group]"), []);
    show($("create-expiry-date-field"), false);
    openDialog($("create-dialog"));
    $("create-name").focus();
  }

  function expiryFields() {
    const choice = $("create-expiry").value;
    if (!choice) return {};
    if (choice !== "date") return { expires_in: choice };
    const date = $("create-expiry-date").value;
    return { expires_at: date ? `${date}T00:00:00Z` : "" };
  }

  async function create(event) {
    event.preventDefault();
    const dialog = $("create-dialog");
    const form = $("create-form");
    const body = {
      name: $("create-name").value.trim(),
      scopes: chosenScopes(form.querySelector("[data-scope-group]")),
      ...expiryFields(),
    };
    const answer = await submit(dialog, () => api("POST", "/keys", body));
    if (!answer.ok) {
      refused(dialog, answer, "The key was not created", { name: $("create-name-error"), scopes: $("create-scopes-error"), expires_in: $("create-expiry-error"), expires_at: $("create-expiry-error") });
      return;
    }
    dialog.close();
    say(`Created the key ${answer.data.name} (${answer.data.scopes.join(", ")}).`);
    showSecret(answer.data, "Your new API key");
    refresh();
  }

  // Edit scopes.
  let editing = null;

  function openEdit(key) {
    editing = key;
    $("edit-title").textContent = `Edit scopes of ${key.name}`;
    const group = $("edit-form").querySelector("[data-scope-group]");
    setScopeChoices(group, key.scopes);
    const others = key.scopes.filter((s) => !OFFERED.includes(s));
    $("edit-other-scopes").textContent = others.length ? `Also granted, unchanged here: ${others.join(", ")}` : "";
    show($("edit-other-scopes"), others.length > 0);
    openDialog($("edit-dialog"));
    group.querySelector("input:not(:disabled)").focus();
  }

  async function saveScopes(event) {
    event.preventDefault();
    const dialog = $("edit-dialog");
    const key = editing;
    const wanted = chosenScopes($("edit-form").querySelector("[data-scope-group]"));
    const current = key.scopes.filter((s) => OFFERED.includes(s));
    const add = wanted.filter((s) => !current.includes(s));
    // With admin kept, read:all and write:all are included anyway: leave them as they are.
    const remove = current.filter((s) => !wanted.includes(s) && !(wanted.includes("admin") && s !== "admin"));
    if (!add.length && !remove.length) {
      dialog.close();
      say(`No change to the scopes of ${key.name}.`);
      return;
    }
    const body = {};
    if (add.length) body.add_scopes = add;
    if (remove.length) body.remove_scopes = remove;
    const answer = await submit(dialog, () => api("PATCH", `/keys/${encodeURIComponent(key.id)}`, body));
    if (!answer.ok) {
      refused(dialog, answer, `The scopes of ${key.name} were not changed`, { scopes: $("edit-scopes-error"), add_scopes: $("edit-scopes-error"), remove_scopes: $("edit-scopes-error") });
      return;
    }
    dialog.close();
    const changes = [add.length ? `added ${add.join(", ")}` : "", remove.length ? `removed ${remove.join(", ")}` : ""].filter(Boolean).join("; ");
    say(`Updated ${answer.data.name}: ${changes}. Scopes now: ${answer.data.scopes.join(", ")}.`);
    refresh();
  }

  // Rotate.
  let rotating = null;

  function openRotate(key) {
    rotating = key;
    $("rotate-title").textContent = `Rotate ${key.name}`;
    $("rotate-grace").value = "24h";
    openDialog($("rotate-dialog"));
    $("rotate-grace").focus();
  }

  async function rotate(event) {
    event.preventDefault();
    const dialog = $("rotate-dialog");
    const key = rotating;
    const body = { grace: $("rotate-grace").value };
    const answer = await submit(dialog, () => api("POST", `/keys/${encodeURIComponent(key.id)}/rotate`, body));
    if (!answer.ok) {
      refused(dialog, answer, `${key.name} was not rotated`, { grace: $("rotate-grace-error") });
      return;
    }
    dialog.close();
    say(`Rotated ${answer.data.name}.`);
    showSecret(answer.data, `New secret for ${answer.data.name}`);
    refresh();
  }

  // Revoke.
  let revoking = null;

  function openRevoke(key) {
    revoking = key;
    $("revoke-title").textContent = `Revoke ${key.name}?`;
    const own = key.id === ownKeyId() ? " You are signed in with this key: the panel will ask for another admin key." : "";
    $("revoke-text").textContent = `Every request made with ${key.name} will be refused at once (401 revoked_api_key). This cannot be undone.${own}`;
    $("revoke-confirm").textContent = `Revoke ${key.name}`;
    openDialog($("revoke-dialog"));
  }

  async function revoke(event) {
    event.preventDefault();
    const dialog = $("revoke-dialog");
    const key = revoking;
    const answer = await submit(dialog, () => api("POST", `/keys/${encodeURIComponent(key.id)}/revoke`));
    if (!answer.ok) {
      refused(dialog, answer, `${key.name} was not revoked`);
      return;
    }
    dialog.close();
    say(`Revoked ${answer.data.name}: requests with it are now refused.`);
    refresh();
  }

  // Disable and enable: at once, undone by the other.
  async function setDisabled(key, button, action, done) {
    button.disabled = true;
    const answer = await api("POST", `/keys/${encodeURIComponent(key.id)}/${action}`);
    button.disabled = false;
    if (signOutIfRefused(answer)) return;
    if (!answer.ok) {
      renderProblem($("page-problem"), answer, `${key.name} was not ${action}d`);
      return;
    }
    clearProblem($("page-problem"));
    say(done(answer.data.name));
    refresh();
  }

  function disable(key, button) {
    setDisabled(key, button, "disable", (name) => `Disabled ${name}: requests with it are refused (401 disabled_api_key) until it is enabled.`);
  }

  function enable(key, button) {
    setDisabled(key, button, "enable", (name) => `Enabled ${name}: requests with it are accepted again.`);
  }

  // Delete.
  let deleting = null;

  function openDelete(key) {
    deleting = key;
    $("delete-title").textContent = `Delete ${key.name}?`;
    const own = key.id === ownKeyId() ? " You are signed in with this key: the panel will ask for another admin key." : "";
    $("delete-text").textContent = `${key.name} will be removed for good: requests with it are refused, its id is never used again and only the audit log keeps it. This cannot be undone.${own}`;
    $("delete-confirm").textContent = `Delete ${key.name}`;
    openDialog($("delete-dialog"));
  }

  async function remove(event) {
    event.preventDefault();
    const dialog = $("delete-dialog");
    const key = deleting;
    const answer = await submit(dialog, () => api("DELETE", `/keys/${encodeURIComponent(key.id)}`));
    if (!answer.ok) {
      refused(dialog, answer, `${key.name} was not deleted`);
      return;
    }
    dialog.close();
    // Its row is gone: the focus goes to the list's heading.
    focusAfterRender = null;
    say(`Deleted ${answer.data.name}.`);
    refresh();
  }

  // ---- the plaintext, shown once ------------------------------------------------------------

  let shownKey = null;

  function shellQuote(text) {
    return `'${text.replace(/'/g, "'\\''")}'`;
  }

  function snippets(key) {
    const url = EXAMPLE_URL;
    return {
      curl: `curl -sS ${shellQuote(url)} \\\n  -H ${shellQuote(`Authorization: Bearer ${key}`)}`,
      python: [
        "import requests",
        "",
        "response = requests.get(",
        `    ${JSON.stringify(url)},`,
        `    headers={"Authorization": ${JSON.stringify(`Bearer ${key}`)}},`,
        "    timeout=10,",
        ")",
        "print(response.status_code, response.text)",
      ].join("\n"),
      javascript: [
        `const response = await fetch(${JSON.stringify(url)}, {`,
        `  headers: { Authorization: ${JSON.stringify(`Bearer ${key}`)} },`,
        "});",
        "console.log(response.status, await response.text());",
      ].join("\n"),
    };
  }

  function showSecret(created, title) {
    shownKey = created.key;
    $("secret-title").textContent = title;
    $("secret-key").textContent = created.key;
    const grace = $("secret-grace");
    grace.textContent = created.previous_secret_valid_until
      ? `The previous secret keeps working until ${created.previous_secret_valid_until.replace("T", " ").replace("Z", " UTC")}.`
      : "";
    show(grace, Boolean(created.previous_secret_valid_until));
    const texts = snippets(created.key);
    for (const code of document.querySelectorAll("[data-snippet]")) code.textContent = texts[code.dataset.snippet];
    $("copy-status").textContent = "";
    selectTab($("tab-curl"), false);
    $("secret-dialog").showModal();
    $("copy-key").focus();
  }

  // Removes the plaintext from the page: it is never stored anywhere.
  function forgetSecret() {
    shownKey = null;
    $("secret-key").textContent = "";
    for (const code of document.querySelectorAll("[data-snippet]")) code.textContent = "";
    $("copy-status").textContent = "";
  }

  async function copyText(text, what) {
    const status = $("copy-status");
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = `${what} copied to the clipboard.`;
    } catch (_) {
      // No clipboard permission: select the key so that Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents($("secret-key"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = "The browser did not allow copying: the key is selected, press Ctrl+C (or ⌘C).";
    }
  }

  // Tabs of the snippets: arrow keys move between them.
  function selectTab(tab, focus) {
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
  }

  function tabKeys(event) {
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    const at = tabs.indexOf(event.target);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
  }

  // ---- wiring -------------------------------------------------------------------------------

  function start() {
    for (const dialog of document.querySelectorAll("dialog")) {
      // Cancelled (button or Escape): the browser gives the focus back to the opener.
      const cancel = () => {
        focusAfterRender = null;
        dialog.close();
      };
      for (const button of dialog.querySelectorAll("[data-close]")) button.addEventListener("click", cancel);
      if (dialog.id !== "secret-dialog") dialog.addEventListener("cancel", () => { focusAfterRender = null; });
    }
    for (const group of document.querySelectorAll("[data-scope-group]")) {
      buildScopeChoices(group, group.closest("form").id.replace("-form", ""));
    }
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => {
      signOut();
      $("admin-key").focus();
    });
    $("refresh").addEventListener("click", async () => {
      if (await refresh()) say("The list is up to date.");
    });
    $("open-create").addEventListener("click", openCreate);
    $("create-form").addEventListener("submit", create);
    $("create-expiry").addEventListener("change", () => show($("create-expiry-date-field"), $("create-expiry").value === "date"));
    $("edit-form").addEventListener("submit", saveScopes);
    $("rotate-form").addEventListener("submit", rotate);
    $("revoke-form").addEventListener("submit", revoke);
    $("delete-form").addEventListener("submit", remove);
    $("copy-key").addEventListener("click", () => shownKey && copyText(shownKey, "The key"));
    for (const button of document.querySelectorAll("[data-copy-snippet]")) {
      button.addEventListener("click", () => {
        const code = document.querySelector(`[data-snippet="${button.dataset.copySnippet}"]`);
        if (code.textContent) copyText(code.textContent, button.textContent.replace("Copy ", ""));
      });
    }
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      tab.addEventListener("click", () => selectTab(tab, true));
      tab.addEventListener("keydown", tabKeys);
    }
    $("secret-done").addEventListener("click", () => $("secret-dialog").close());
    // Closing by Escape too: the plaintext goes either way.
    $("secret-dialog").addEventListener("close", () => {
      forgetSecret();
      restoreFocus();
    });
    window.addEventListener("pagehide", forgetSecret);

    if (adminKey()) {
      showSignedIn(true);
      refresh();
    } else {
      showSignedIn(false);
    }
  }

  start();
})();
