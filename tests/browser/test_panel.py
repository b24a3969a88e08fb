"""The API Keys panel in headless Chromium, against examples/server.rs on a fresh database.

The tests run in file order and share one browser: the key lifecycle (create `ci-pipeline`
with read:all, use it, add write:all, rotate, revoke) builds on the steps before it, as an
operator's session does. Each test checks one behaviour and says which in its name.
"""

import re
from datetime import datetime, timedelta, timezone

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

KEY_PATTERN = re.compile(r"^[A-Za-z0-9]+_[A-Za-z0-9_]+$")

# What one test learns and a later one uses (the key lifecycle).
state = {}


# ---- helpers ---------------------------------------------------------------------------------


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def visible(driver, css):
    return wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def gone(driver, css):
    wait(driver, ec.invisibility_of_element_located((By.CSS_SELECTOR, css)))


def text_of(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def storage(driver):
    return driver.execute_script(
        "return {session: Object.assign({}, sessionStorage), local: Object.assign({}, localStorage),"
        " cookie: document.cookie};"
    )


def row(driver, name):
    return visible(driver, f'tr[data-key-name="{name}"]')


def open_signed_in(driver, panel_url, admin_key):
    """The panel, signed in with the admin key (kept from an earlier test if there is one)."""
    if driver.current_url != panel_url:
        driver.get(panel_url)
    if not driver.find_element(By.ID, "keys").is_displayed():
        field = visible(driver, "#admin-key")
        field.clear()
        field.send_keys(admin_key, Keys.ENTER)
    visible(driver, "#keys-table")


def fill_create_form(driver, name, scopes):
    driver.find_element(By.ID, "open-create").click()
    visible(driver, "#create-dialog")
    name_field = driver.find_element(By.ID, "create-name")
    name_field.clear()
    name_field.send_keys(name)
    for scope in scopes:
        driver.find_element(By.CSS_SELECTOR, f'#create-dialog input[value="{scope}"]').click()


def shown_key(driver):
    visible(driver, "#secret-dialog")
    key = text_of(driver, "#secret-key").strip()
    assert KEY_PATTERN.match(key), f"not a key: {key!r}"
    return key


def dismiss_secret(driver):
    driver.find_element(By.ID, "secret-done").click()
    gone(driver, "#secret-dialog")


def status_text(driver):
    return visible(driver, "#status").text


# ---- headers and sign-in --------------------------------------------------------------------


def test_page_is_served_with_a_strict_csp_and_no_caching(http):
    answer = http("GET", "/settings/api-keys")
    assert answer.status == 200
    csp = answer.headers["Content-Security-Policy"]
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]:
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_page_asks_for_an_admin_key_first(driver, panel_url, shots):
    driver.get(panel_url)
    visible(driver, "#sign-in")
    assert not driver.find_element(By.ID, "keys").is_displayed()
    label = driver.find_element(By.CSS_SELECTOR, 'label[for="admin-key"]')
    assert label.text == "Admin key"
    shots(driver, "01-sign-in")


def test_a_wrong_admin_key_is_told_so_and_not_kept(driver, panel_url, shots):
    driver.get(panel_url)
    field = visible(driver, "#admin-key")
    field.send_keys("kg_AAAAAAAAAAAA_notarealsecretnotarealsecretnotarealsecret0000", Keys.ENTER)
    problem = visible(driver, "#sign-in-problem")
    assert "That admin key was refused" in problem.text
    assert "401" in problem.text
    assert field.get_attribute("aria-invalid") == "true"
    assert storage(driver)["session"] == {}
    assert not driver.find_element(By.ID, "keys").is_displayed()
    shots(driver, "02-wrong-admin-key")


def test_the_admin_key_signs_in_and_is_kept_in_session_storage_only(driver, panel_url, admin_key, shots):
    driver.get(panel_url)
    field = visible(driver, "#admin-key")
    field.send_keys(admin_key, Keys.ENTER)
    admin_row = row(driver, "admin")
    assert "Signed in with this key" in admin_row.text
    assert "Active" in admin_row.text or "active" in admin_row.text
    kept = storage(driver)
    assert kept["session"] == {"keygate.adminKey": admin_key}
    assert kept["local"] == {}
    assert kept["cookie"] == ""
    assert driver.get_cookies() == []
    assert admin_key not in driver.current_url
    # The list never shows a secret: the admin key's secret part is nowhere on the page.
    assert admin_key not in driver.page_source
    shots(driver, "03-key-list")


def test_the_page_loads_without_errors_in_the_console(driver, panel_url, admin_key):
    driver.get_log("browser")  # drop what earlier tests logged (the refused key's 401)
    driver.get(panel_url)
    row(driver, "admin")
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


# ---- creating a key --------------------------------------------------------------------------


def test_ticking_admin_shows_that_it_includes_the_other_scopes(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    fill_create_form(driver, "scratch", ["read:all"])
    write = driver.find_element(By.ID, "create-scope-write-all")
    assert not write.is_selected()
    driver.find_element(By.ID, "create-scope-admin").click()
    for scope in ["read-all", "write-all"]:
        box = driver.find_element(By.ID, f"create-scope-{scope}")
        assert box.is_selected() and not box.is_enabled()
        assert driver.find_element(By.ID, f"create-scope-{scope}-included").is_displayed()
    driver.find_element(By.ID, "create-scope-admin").click()
    assert driver.find_element(By.ID, "create-scope-read-all").is_selected()
    assert not driver.find_element(By.ID, "create-scope-write-all").is_selected()
    driver.find_element(By.CSS_SELECTOR, "#create-dialog [data-close]").click()
    gone(driver, "#create-dialog")


def test_a_name_the_api_refuses_shows_its_message_as_text_and_runs_no_markup(driver, panel_url, admin_key, shots):
    open_signed_in(driver, panel_url, admin_key)
    title = driver.title
    markup = "<img src=x onerror=\"document.title='pwned'\">"
    fill_create_form(driver, markup, ["read:all"])
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    error = visible(driver, "#create-name-error")
    assert "invalid key name" in error.text
    assert "<img" in error.text  # the API's message quotes the name: shown as text
    problem = visible(driver, "#create-dialog [data-problem]")
    assert "The key was not created" in problem.text
    assert "422" in problem.text and "invalid_request" in problem.text
    assert driver.find_element(By.ID, "create-name").get_attribute("aria-invalid") == "true"
    assert driver.find_elements(By.CSS_SELECTOR, "#app img") == []
    assert driver.title == title
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", problem)
    shots(driver, "06-refusal")
    driver.find_element(By.CSS_SELECTOR, "#create-dialog [data-close]").click()


def test_a_created_key_is_shown_once_with_snippets_for_this_service(driver, panel_url, base_url, admin_key, shots):
    open_signed_in(driver, panel_url, admin_key)
    fill_create_form(driver, "ci-pipeline", ["read:all"])
    shots(driver, "04-create-form")
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    key = shown_key(driver)
    assert "cannot be shown again" in text_of(driver, "#secret-warning")
    curl = text_of(driver, '[data-snippet="curl"]')
    assert f"Authorization: Bearer {key}" in curl and f"{base_url}/v1/records" in curl
    for tab, snippet in [("tab-python", "python"), ("tab-javascript", "javascript")]:
        driver.find_element(By.ID, tab).click()
        code = visible(driver, f'[data-snippet="{snippet}"]').text
        assert f"Bearer {key}" in code and f'"{base_url}/v1/records"' in code
    driver.find_element(By.ID, "tab-curl").click()
    shots(driver, "05-key-shown-once")
    assert "Created the key ci-pipeline" in status_text(driver)
    state["ci_key"] = key


def test_the_copy_button_puts_the_key_on_the_clipboard(driver, base_url):
    key = state["ci_key"]
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    driver.find_element(By.ID, "copy-key").click()
    wait(driver, lambda d: "copied" in d.find_element(By.ID, "copy-status").text)
    copied = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('error: ' + e));"
    )
    assert copied == key


def test_the_shown_key_reads_records_but_cannot_write_them(http):
    key = state["ci_key"]
    assert http("GET", "/v1/records", key).status == 200
    refused = http("POST", "/v1/records", key, "from the browser suite")
    assert refused.status == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert refused.json()["required_scope"] == "write:all"


def test_the_plaintext_is_gone_from_the_page_once_dismissed(driver):
    key = state["ci_key"]
    dismiss_secret(driver)
    assert key not in driver.page_source
    assert driver.execute_script("return document.documentElement.outerHTML.includes(arguments[0])", key) is False
    assert "read:all" in row(driver, "ci-pipeline").text


def test_the_plaintext_does_not_survive_a_reload(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    fill_create_form(driver, "local-dev", ["read:all"])
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    key = shown_key(driver)
    driver.refresh()
    row(driver, "local-dev")  # still signed in: the admin key is in sessionStorage
    assert key not in driver.page_source
    assert not driver.find_element(By.ID, "secret-dialog").is_displayed()
    assert key not in str(storage(driver))


def test_an_expiry_chosen_in_the_form_is_shown_in_the_list(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    fill_create_form(driver, "expiring", ["read:all"])
    driver.find_element(By.CSS_SELECTOR, '#create-expiry option[value="30d"]').click()
    before = datetime.now(timezone.utc)
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    shown_key(driver)
    dismiss_secret(driver)
    expires = row(driver, "expiring").find_element(By.CSS_SELECTOR, '[data-label="Expires"] time')
    at = datetime.fromisoformat(expires.get_attribute("datetime").replace("Z", "+00:00"))
    assert timedelta(days=30) - timedelta(minutes=1) <= at - before <= timedelta(days=30, minutes=1)


def test_an_expiry_date_in_the_past_is_refused_with_the_apis_message(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    fill_create_form(driver, "too-late", ["read:all"])
    driver.find_element(By.CSS_SELECTOR, '#create-expiry option[value="date"]').click()
    date = visible(driver, "#create-expiry-date")
    # A date input takes its value through script; typing depends on the locale's format.
    driver.execute_script("arguments[0].value = '2020-01-01';", date)
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    error = visible(driver, "#create-expiry-error")
    assert "the expiry must be in the future" in error.text
    assert driver.find_elements(By.CSS_SELECTOR, 'tr[data-key-name="too-late"]') == []
    driver.find_element(By.CSS_SELECTOR, "#create-dialog [data-close]").click()
    gone(driver, "#create-dialog")


# ---- refusals of the admin API ---------------------------------------------------------------


def test_a_key_without_admin_is_told_it_lacks_the_scope_with_the_fix(driver, panel_url):
    driver.get(panel_url)
    driver.find_element(By.ID, "sign-out").click()
    field = visible(driver, "#admin-key")
    field.send_keys(state["ci_key"], Keys.ENTER)
    problem = visible(driver, "#sign-in-problem")
    assert "does not have the admin scope" in problem.text
    assert "403 insufficient_scope" in problem.text
    assert "Fix:" in problem.text and "Settings → API Keys" in problem.text
    assert storage(driver)["session"] == {}


# ---- editing, rotating, revoking --------------------------------------------------------------


def test_adding_write_all_in_the_panel_lets_the_key_post(driver, panel_url, admin_key, http, shots):
    open_signed_in(driver, panel_url, admin_key)
    row(driver, "ci-pipeline").find_element(By.CSS_SELECTOR, '[aria-label="Edit scopes ci-pipeline"]').click()
    visible(driver, "#edit-dialog")
    assert text_of(driver, "#edit-title") == "Edit scopes of ci-pipeline"
    assert driver.find_element(By.ID, "edit-scope-read-all").is_selected()
    driver.find_element(By.ID, "edit-scope-write-all").click()
    shots(driver, "07-edit-scopes")
    driver.find_element(By.CSS_SELECTOR, "#edit-form button[type=submit]").click()
    gone(driver, "#edit-dialog")
    assert "added write:all" in status_text(driver)
    wait(driver, lambda d: "write:all" in row(d, "ci-pipeline").text)
    # The list was drawn again: the focus is back on the same action of the same key.
    wait(driver, lambda d: d.switch_to.active_element.get_attribute("aria-label") == "Edit scopes ci-pipeline")
    created = http("POST", "/v1/records", state["ci_key"], "written after the scope was added")
    assert created.status == 201


def test_rotation_shows_a_new_secret_once_and_the_old_one_stops(driver, panel_url, admin_key, http):
    open_signed_in(driver, panel_url, admin_key)
    row(driver, "ci-pipeline").find_element(By.CSS_SELECTOR, '[aria-label="Rotate ci-pipeline"]').click()
    visible(driver, "#rotate-dialog")
    grace = driver.find_element(By.ID, "rotate-grace")
    grace.find_element(By.CSS_SELECTOR, 'option[value="0s"]').click()
    driver.find_element(By.CSS_SELECTOR, "#rotate-form button[type=submit]").click()
    new_key = shown_key(driver)
    assert new_key != state["ci_key"]
    dismiss_secret(driver)
    assert new_key not in driver.page_source
    assert http("GET", "/v1/records", new_key).status == 200
    assert http("GET", "/v1/records", state["ci_key"]).status == 401
    state["ci_key"] = new_key


def test_revoking_names_the_key_and_then_the_api_refuses_it(driver, panel_url, admin_key, http, shots):
    open_signed_in(driver, panel_url, admin_key)
    row(driver, "ci-pipeline").find_element(By.CSS_SELECTOR, '[aria-label="Revoke ci-pipeline"]').click()
    visible(driver, "#revoke-dialog")
    assert text_of(driver, "#revoke-title") == "Revoke ci-pipeline?"
    assert "ci-pipeline" in text_of(driver, "#revoke-text")
    # Cancel has the focus: Enter alone does not revoke.
    assert driver.switch_to.active_element.text == "Cancel"
    driver.find_element(By.ID, "revoke-confirm").click()
    gone(driver, "#revoke-dialog")
    assert "Revoked ci-pipeline" in status_text(driver)
    wait(driver, lambda d: "revoked" in row(d, "ci-pipeline").text.lower())
    revoked_row = row(driver, "ci-pipeline")
    assert re.search(r"Revoked \d{4}-\d\d-\d\d", revoked_row.text), revoked_row.text
    # A revoked key can still be deleted, and nothing else.
    assert [b.text for b in revoked_row.find_elements(By.TAG_NAME, "button")] == ["Delete"]
    shots(driver, "10-after-revoke")
    refused = http("GET", "/v1/records", state["ci_key"])
    assert refused.status == 401
    assert refused.json()["code"] == "revoked_api_key"


def test_the_key_table_fits_a_desktop_window_without_scrolling_sideways(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    row(driver, "ci-pipeline")
    wrap = driver.find_element(By.CSS_SELECTOR, "#keys .table-wrap")
    widths = driver.execute_script("return [arguments[0].scrollWidth, arguments[0].clientWidth]", wrap)
    assert widths[0] <= widths[1], f"the table scrolls sideways: {widths}"


def test_revoking_the_key_signed_in_with_returns_to_sign_in_with_the_apis_answer(driver, panel_url, admin_key, http):
    second = http("POST", "/admin/keys", admin_key, {"name": "second-admin", "scopes": ["admin"]}).json()["key"]
    driver.get(panel_url)
    if driver.find_element(By.ID, "sign-out").is_displayed():
        driver.find_element(By.ID, "sign-out").click()
    visible(driver, "#admin-key").send_keys(second, Keys.ENTER)
    own = row(driver, "second-admin")
    assert "Signed in with this key" in own.text
    own.find_element(By.CSS_SELECTOR, '[aria-label="Revoke second-admin"]').click()
    assert "You are signed in with this key" in visible(driver, "#revoke-text").text
    driver.find_element(By.ID, "revoke-confirm").click()
    problem = visible(driver, "#sign-in-problem")
    assert "Your admin key was refused" in problem.text
    assert "401 revoked_api_key" in problem.text
    assert storage(driver)["session"] == {}
    assert not driver.find_element(By.ID, "keys").is_displayed()


# ---- the CSP in the browser ------------------------------------------------------------------

INJECT = """
window.__injected = false;
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));
const script = document.createElement('script');
script.textContent = 'window.__injected = true;';
document.body.appendChild(script);
"""


def test_the_csp_blocks_an_injected_inline_script(driver, panel_url):
    # Control: on a page without a CSP the same injection runs, so the method is sound.
    driver.get("about:blank")
    driver.execute_script("document.body || document.documentElement.appendChild(document.createElement('body'));")
    driver.execute_script(INJECT)
    assert driver.execute_script("return window.__injected") is True

    driver.get(panel_url)
    visible(driver, "main")
    driver.execute_script(INJECT)
    wait(driver, lambda d: d.execute_script("return window.__violations.length") > 0)
    assert driver.execute_script("return window.__injected") is False
    violations = driver.execute_script("return window.__violations")
    assert any(v.startswith("script-src") and v.endswith("inline") for v in violations), violations


# ---- keyboard and narrow screens -------------------------------------------------------------


def press(driver, *keys):
    driver.switch_to.active_element.send_keys(*keys)


def tab_to(driver, element_id, limit=40):
    for _ in range(limit):
        if driver.switch_to.active_element.get_attribute("id") == element_id:
            return
        press(driver, Keys.TAB)
    raise AssertionError(f"Tab never reached #{element_id}")


def test_the_keyboard_alone_creates_a_key_and_escape_forgets_the_plaintext(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    driver.find_element(By.TAG_NAME, "body").click()
    tab_to(driver, "open-create")
    focused = driver.switch_to.active_element
    assert focused.value_of_css_property("box-shadow") != "none", "no visible focus"
    press(driver, Keys.ENTER)
    visible(driver, "#create-dialog")
    assert driver.switch_to.active_element.get_attribute("id") == "create-name"
    press(driver, "keyboard-only")
    press(driver, Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "create-scope-read-all"
    press(driver, Keys.SPACE)
    press(driver, Keys.SHIFT, Keys.TAB)
    press(driver, Keys.ENTER)
    key = shown_key(driver)
    assert driver.switch_to.active_element.get_attribute("id") == "copy-key"
    press(driver, Keys.ESCAPE)
    gone(driver, "#secret-dialog")
    assert driver.switch_to.active_element.get_attribute("id") == "open-create"
    assert key not in driver.page_source
    assert "read:all" in row(driver, "keyboard-only").text


def test_the_panel_fits_a_narrow_screen(driver, panel_url, admin_key, shots):
    driver.set_window_size(375, 812)
    try:
        open_signed_in(driver, panel_url, admin_key)
        row(driver, "admin")
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways: {width}"
        shots(driver, "08-mobile")
        fill_create_form(driver, "mobile", ["write:all"])
        dialog = driver.find_element(By.ID, "create-dialog")
        assert dialog.rect["width"] <= width[1]
        shots(driver, "09-mobile-create")
        driver.find_element(By.CSS_SELECTOR, "#create-dialog [data-close]").click()
    finally:
        driver.set_window_size(1280, 900)


# ---- workspaces ------------------------------------------------------------------------------


def test_the_heading_names_the_signed_in_keys_workspace(driver, panel_url, admin_key):
    open_signed_in(driver, panel_url, admin_key)
    wait(driver, lambda d: text_of(d, "#workspace-name") == "default")
    assert text_of(driver, "#keys-title") == "Keys in workspace default"


def test_a_name_taken_in_the_workspace_is_refused_beside_the_name_field(driver, panel_url, admin_key, shots):
    open_signed_in(driver, panel_url, admin_key)
    before = len(driver.find_elements(By.CSS_SELECTOR, "#keys-body tr"))
    fill_create_form(driver, "admin", ["read:all"])
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    error = visible(driver, "#create-name-error")
    assert "already exists in this workspace" in error.text
    problem = visible(driver, "#create-dialog [data-problem]")
    assert "409" in problem.text and "name_taken" in problem.text
    assert driver.find_element(By.ID, "create-name").get_attribute("aria-invalid") == "true"
    shots(driver, "11-name-taken")
    driver.find_element(By.CSS_SELECTOR, "#create-dialog [data-close]").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#keys-body tr")) == before


def test_another_workspaces_admin_sees_only_its_own_keys(driver, panel_url, other_workspace, http, shots):
    # The operator made globex's admin key and a globex `ci-pipeline` with the CLI, on the
    # running server's database: the name is taken in `default` too, and that is fine.
    driver.find_element(By.ID, "sign-out").click()
    visible(driver, "#sign-in")
    field = visible(driver, "#admin-key")
    field.clear()
    field.send_keys(other_workspace["admin_key"], Keys.ENTER)
    visible(driver, "#keys-table")
    wait(driver, lambda d: text_of(d, "#workspace-name") == "globex")
    names = [r.get_attribute("data-key-name") for r in driver.find_elements(By.CSS_SELECTOR, "#keys-body tr")]
    assert sorted(names) == ["admin", "ci-pipeline"]
    ids = {r.get_attribute("data-key-id") for r in driver.find_elements(By.CSS_SELECTOR, "#keys-body tr")}
    default_ids = {k["id"] for k in http("GET", "/admin/keys", key=other_workspace["default_admin_key"]).json()["keys"]}
    assert not ids & default_ids, "a default-workspace key is shown to globex's admin"
    shots(driver, "10-other-workspace")


# ---- disable, enable, delete, and more than one page ------------------------------------------


def signed_in_as(driver, panel_url, key):
    """The panel signed in with `key`, whoever was signed in before."""
    driver.get(panel_url)
    if driver.find_element(By.ID, "sign-out").is_displayed():
        driver.find_element(By.ID, "sign-out").click()
    visible(driver, "#admin-key").send_keys(key, Keys.ENTER)
    visible(driver, "#keys-table")


def row_status(driver, name):
    """The status a key's row shows; "" while the list is being drawn again."""
    try:
        return row(driver, name).find_element(By.CSS_SELECTOR, ".status").text.lower()
    except StaleElementReferenceException:
        return ""


def test_disabling_a_key_shows_it_disabled_and_the_api_refuses_it_until_enabled(driver, panel_url, other_workspace, http, shots):
    admin = other_workspace["admin_key"]
    made = http("POST", "/admin/keys", admin, {"name": "nightly-job", "scopes": ["read:all"]}).json()
    signed_in_as(driver, panel_url, admin)
    row(driver, "nightly-job").find_element(By.CSS_SELECTOR, '[aria-label="Disable nightly-job"]').click()
    wait(driver, lambda d: row_status(d, "nightly-job") == "disabled")
    assert "Disabled nightly-job" in status_text(driver)
    shots(driver, "11-after-disable")
    refused = http("GET", "/v1/records", made["key"])
    assert refused.status == 401
    assert refused.json()["code"] == "disabled_api_key"
    row(driver, "nightly-job").find_element(By.CSS_SELECTOR, '[aria-label="Enable nightly-job"]').click()
    wait(driver, lambda d: row_status(d, "nightly-job") == "active")
    assert "Enabled nightly-job" in status_text(driver)
    assert http("GET", "/v1/records", made["key"]).status == 200


def test_a_keys_ip_allowlist_is_shown_under_its_name_as_text(driver, panel_url, other_workspace, http, shots):
    admin = other_workspace["admin_key"]
    networks = ["192.0.2.0/24", "2001:db8::/32"]
    made = http("POST", "/admin/keys", admin, {"name": "office-sync", "scopes": ["read:all"], "allowed_ips": networks})
    assert made.status == 201
    signed_in_as(driver, panel_url, admin)
    hint = row(driver, "office-sync").find_element(By.CSS_SELECTOR, ".allowed-ips")
    assert hint.text == "Only from 192.0.2.0/24, 2001:db8::/32"
    assert not row(driver, "admin").find_elements(By.CSS_SELECTOR, ".allowed-ips")
    shots(driver, "12-allowed-ips")


def test_deleting_a_key_asks_first_then_its_row_goes_and_the_api_forgets_it(driver, panel_url, other_workspace, http, shots):
    admin = other_workspace["admin_key"]
    made = http("POST", "/admin/keys", admin, {"name": "old-export", "scopes": ["read:all"]}).json()
    signed_in_as(driver, panel_url, admin)
    row(driver, "old-export").find_element(By.CSS_SELECTOR, '[aria-label="Delete old-export"]').click()
    visible(driver, "#delete-dialog")
    assert text_of(driver, "#delete-title") == "Delete old-export?"
    assert "cannot be undone" in text_of(driver, "#delete-text")
    # Cancel has the focus: Enter alone does not delete.
    assert driver.switch_to.active_element.text == "Cancel"
    shots(driver, "12-delete-dialog")
    driver.find_element(By.ID, "delete-confirm").click()
    gone(driver, "#delete-dialog")
    assert "Deleted old-export" in status_text(driver)
    gone(driver, 'tr[data-key-name="old-export"]')
    refused = http("GET", "/v1/records", made["key"])
    assert refused.status == 401
    assert refused.json()["code"] == "invalid_api_key"
    assert http("GET", f"/admin/keys/{made['id']}", admin).status == 404


def test_a_workspace_with_more_than_one_page_of_keys_shows_them_all(driver, panel_url, paged_workspace, shots):
    signed_in_as(driver, panel_url, paged_workspace["admin_key"])
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keys-body tr")) == paged_workspace["keys"])
    names = [r.get_attribute("data-key-name") for r in driver.find_elements(By.CSS_SELECTOR, "#keys-body tr")]
    assert len(set(names)) == paged_workspace["keys"]
    assert "bulk-504" in names
    shots(driver, "13-more-than-one-page")
