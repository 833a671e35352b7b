"""The web console (/console/) in a real browser: Playwright driving Debian's headless Chromium.

Each test signs in through the form, does what an operator would, and checks the page and,
where it matters, the audit trail and the API state behind it (boto3). Screenshots of each page
go to $TRENT_TEST_ARTEFACTS/console (default <repo>/target/test-artefacts/console); with
TRENT_UPDATE_CONSOLE_DOCS=1 they are also copied into docs/console/ (the pictures of
docs/CONSOLE.md).

Playwright's own browser download is not used: the system's /usr/bin/chromium is launched
(scripts/compat-venv.sh installs Debian's `chromium` when it is missing).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    REPO,
    TrentServer,
    make_service_client,
)

from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("TRENT_CHROMIUM", "/usr/bin/chromium")
ARTEFACTS = pathlib.Path(os.environ.get("TRENT_TEST_ARTEFACTS", REPO / "target" / "test-artefacts")) / "console"
DOCS_SHOTS = REPO / "docs" / "console"
# Every wait in these tests is bounded by this (ms).
TIMEOUT_MS = 15_000
XSS = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">'\""


def shot(page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("TRENT_UPDATE_CONSOLE_DOCS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")


def nav(page, name: str):
    """A link of the main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def no_script_ran(page) -> None:
    assert page.evaluate("window.__xss") is None, "an injected script ran"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    work = tmp_path_factory.mktemp("trent-console")
    s = TrentServer(work / "data", work)
    s.start()
    yield s
    s.kill()


@pytest.fixture(scope="module")
def browser():
    if not pathlib.Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/compat-venv.sh does)", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def ctx(browser):
    c = browser.new_context(viewport={"width": 1280, "height": 800})
    c.set_default_timeout(TIMEOUT_MS)
    yield c
    c.close()


def client(service: str, srv: TrentServer, key: str = ADMIN_ACCESS_KEY_ID, secret: str = ADMIN_SECRET_ACCESS_KEY):
    return make_service_client(service, srv.base_url, access_key=key, secret_key=secret)


def iam(srv: TrentServer):
    return boto3.session.Session().client(
        "iam",
        endpoint_url=srv.base_url,
        region_name="us-east-1",
        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


def sign_in(page, srv: TrentServer, key: str = ADMIN_ACCESS_KEY_ID, secret: str = ADMIN_SECRET_ACCESS_KEY):
    page.goto(f"{srv.base_url}/console/")
    expect(page).to_have_url(re.compile(r"/console/signin"))
    page.get_by_label("Access key ID").fill(key)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def new_user(srv: TrentServer, statements: list[dict]) -> dict:
    i = iam(srv)
    name = f"console-{uuid.uuid4().hex[:8]}"
    i.create_user(UserName=name)
    if statements:
        doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
        i.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc)
    key = i.create_access_key(UserName=name)["AccessKey"]
    key["UserName"] = name
    return key


def events(srv: TrentServer, name: str) -> list[dict]:
    ct = client("cloudtrail", srv)
    out = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=50)
    return [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]


# --------------------------------------------------------------------------------------


def test_security_headers_and_cookie_flags(srv):
    r = requests.get(f"{srv.base_url}/console/signin", timeout=10)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "<script>" not in r.text.replace('<script src="/console/static/console.js" defer></script>', "")
    # Unauthenticated pages redirect to sign-in; an unauthenticated POST is refused.
    r = requests.get(f"{srv.base_url}/console/keys", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"].startswith("/console/signin")
    r = requests.post(f"{srv.base_url}/console/keys/create", data={"spec": "SYMMETRIC_DEFAULT"}, timeout=10)
    assert r.status_code == 403


def test_wrong_pair_shows_an_error_and_is_audited(srv, ctx):
    page = ctx.new_page()
    sign_in(page, srv, secret="not-the-secret-" + uuid.uuid4().hex)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Sign-in failed")
    expect(page.get_by_label("Secret access key")).to_have_value("")
    shot(page, "01-sign-in-error")
    failed = [
        e
        for e in events(srv, "GetCallerIdentity")
        if e.get("userAgent") == "trent-console" and e.get("errorCode") == "SignatureDoesNotMatch"
    ]
    assert failed, "the failed sign-in is in the audit trail"
    assert failed[0]["userIdentity"].get("accessKeyId") == ADMIN_ACCESS_KEY_ID


def test_sign_in_shows_the_console_and_sign_out_ends_the_session(srv, ctx):
    page = ctx.new_page()
    page.goto(f"{srv.base_url}/console/signin")
    shot(page, "00-sign-in")
    sign_in(page, srv)
    expect(page).to_have_url(re.compile(r"/console/$"))
    for name in ["Keys", "Parameters", "Secrets", "Audit events", "Identity"]:
        expect(nav(page, name)).to_be_visible()
    expect(page.get_by_label("Region")).to_have_value("us-east-1")
    expect(page.locator("main")).to_contain_text(f"arn:aws:iam::{ACCOUNT_ID}:root")
    # Overview: the last hour's requests per service from trentd's own metrics, as SVG charts.
    traffic = page.locator("section:has(#traffic-h)")
    expect(traffic.locator("tbody tr", has_text="sts")).to_be_visible()
    expect(traffic.get_by_role("img").first).to_have_attribute("aria-label", re.compile(r"requests in the last hour"))
    shot(page, "02-overview")
    cookies = {c["name"]: c for c in ctx.cookies()}
    session = cookies["trent_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    ok = [e for e in events(srv, "GetCallerIdentity") if e.get("userAgent") == "trent-console" and "errorCode" not in e]
    assert ok, "the sign-in is audited"
    # The region selector moves the session to another region.
    page.get_by_label("Region").select_option("eu-west-1")
    expect(page.get_by_label("Region")).to_have_value("eu-west-1")
    expect(page.locator("main")).to_contain_text("eu-west-1")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/signin"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    # The old cookie no longer opens anything.
    r = requests.get(
        f"{srv.base_url}/console/keys", cookies={"trent_console": session["value"]}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303


def test_create_key_scratchpad_and_xss_in_free_text_renders_as_text(srv, ctx):
    page = ctx.new_page()
    sign_in(page, srv)
    nav(page, "Keys").click()
    page.get_by_text("Create key", exact=True).first.click()
    alias = f"alias/console-{uuid.uuid4().hex[:8]}"
    page.get_by_label("Alias (optional)").fill(alias)
    page.get_by_label("Description").fill("desc " + XSS)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("status")).to_contain_text("Created")
    expect(page.locator("dl.meta")).to_contain_text("desc " + XSS)
    no_script_ran(page)
    key_id = page.locator("dl.meta dd").first.inner_text()
    meta = client("kms", srv).describe_key(KeyId=alias)["KeyMetadata"]
    assert meta["KeyId"] == key_id and meta["Description"] == "desc " + XSS
    ev = [e for e in events(srv, "CreateKey") if key_id in json.dumps(e)]
    assert ev and ev[0]["userAgent"] == "trent-console", ev
    shot(page, "04-key")
    # Scratchpad: encrypt, then decrypt what came back.
    secret_text = "scratchpad " + uuid.uuid4().hex
    page.get_by_label("Plaintext", exact=True).fill(secret_text)
    page.get_by_role("button", name="Encrypt").click()
    ct = page.get_by_label("Ciphertext (base64)", exact=True).input_value()
    assert len(ct) > 40
    page.get_by_label("Ciphertext to decrypt (base64)").fill(ct)
    page.get_by_role("button", name="Decrypt").click()
    expect(page.get_by_label("Decrypted plaintext")).to_have_value(secret_text)
    assert secret_text not in page.url and ct not in page.url
    shot(page, "05-key-scratchpad")
    # The list shows the key with its alias; the filter finds it; the XSS stays text there too.
    page.goto(f"{srv.base_url}/console/keys?filter={alias.split('/')[1]}")
    row = page.locator("tbody tr", has_text=key_id)
    expect(row).to_contain_text(alias)
    expect(row).to_contain_text("SYMMETRIC_DEFAULT")
    no_script_ran(page)
    shot(page, "03-keys")
    # Disable and enable.
    page.goto(f"{srv.base_url}/console/keys/view?id={key_id}")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("disabled")
    assert client("kms", srv).describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("enabled")
    # An invalid policy is refused with the error shown next to the editor, the text kept.
    page.get_by_label("Policy document (JSON)").fill('{"Version": "2012-10-17", "Statement": [')
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("section:has(#policy-h) .error")).to_contain_text("MalformedPolicyDocumentException")
    expect(page.get_by_label("Policy document (JSON)")).to_have_value('{"Version": "2012-10-17", "Statement": [')


def test_parameter_tree_and_show_value_of_a_secure_string(srv, ctx):
    ssm = client("ssm", srv)
    base = f"/console-{uuid.uuid4().hex[:6]}"
    value = "s3cr3t-" + uuid.uuid4().hex
    ssm.put_parameter(Name=f"{base}/app/db-password", Type="SecureString", Value=value)
    ssm.put_parameter(Name=f"{base}/app/greeting", Type="String", Value=XSS, Description=XSS)
    page = ctx.new_page()
    sign_in(page, srv)
    nav(page, "Parameters").click()
    tree = page.get_by_role("navigation", name="Parameter tree")
    expect(tree).to_contain_text(base.strip("/") + "/")
    expect(tree).to_contain_text("app/")
    no_script_ran(page)
    shot(page, "06-parameters")
    tree.get_by_role("link", name="greeting").click()
    expect(page.get_by_test_id("parameter-value")).to_have_text(XSS)
    no_script_ran(page)
    page.go_back()
    tree = page.get_by_role("navigation", name="Parameter tree")
    tree.get_by_role("link", name="db-password").click()
    expect(page.locator("main")).to_contain_text("Hidden (SecureString)")
    assert value not in page.content()
    page.get_by_role("button", name="Show value").click()
    expect(page.get_by_test_id("parameter-value")).to_have_text(value)
    assert value not in page.url
    shot(page, "07-parameter-shown")
    # Edit: a new version through the form.
    page.get_by_label("Value").fill("v2-" + value)
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    got = ssm.get_parameter(Name=f"{base}/app/db-password", WithDecryption=True)["Parameter"]
    assert got["Version"] == 2 and got["Value"] == "v2-" + value and got["Type"] == "SecureString"


def test_secret_retrieve_rotate_and_find_get_secret_value_in_audit_events(srv, ctx):
    sm = client("secretsmanager", srv)
    name = f"console/db-{uuid.uuid4().hex[:8]}"
    first = "first-" + uuid.uuid4().hex
    sm.create_secret(Name=name, SecretString=first, Description=XSS)
    page = ctx.new_page()
    sign_in(page, srv)
    nav(page, "Secrets").click()
    expect(page.locator("tbody")).to_contain_text(XSS)
    no_script_ran(page)
    shot(page, "08-secrets")
    page.get_by_role("link", name=name).click()
    assert first not in page.content()
    page.get_by_role("button", name="Retrieve secret value").click()
    expect(page.get_by_test_id("secret-value")).to_have_text(first)
    assert first not in page.url
    shot(page, "09-secret-value")
    # Rotate now with the built-in generic rotator: a new AWSCURRENT version with a new value.
    page.get_by_label("Rotation function").fill("trent-generic")
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status")).to_contain_text("Rotated")
    expect(page.locator("main")).to_contain_text("Rotation: enabled")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        current = sm.get_secret_value(SecretId=name)["SecretString"]
        if current != first:
            break
        time.sleep(0.2)
    assert current != first, "the rotation made a new current value"
    page.reload()
    versions = page.locator("section:has(#versions-h) tbody tr")
    expect(versions).to_have_count(2)
    expect(page.locator("section:has(#versions-h)")).to_contain_text("AWSPREVIOUS")
    page.get_by_role("button", name="Retrieve secret value").click()
    expect(page.get_by_test_id("secret-value")).to_have_text(current)
    shot(page, "10-secret-rotated")
    # Audit events: the console's GetSecretValue, with its user agent, in the event JSON.
    nav(page, "Audit events").click()
    page.get_by_label("Event name").fill("GetSecretValue")
    page.get_by_label("Resource").fill(name)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.events tbody tr:not(.detail)", has_text="GetSecretValue")
    expect(rows.first).to_be_visible()
    assert current not in page.content() and first not in page.content()
    details = page.locator("table.events details").first
    details.locator("summary").click()
    expect(details.locator("pre")).to_contain_text('"userAgent": "trent-console"')
    shot(page, "11-audit-events")


def test_restricted_user_sees_access_denied_not_an_empty_list(srv, ctx):
    key = new_user(srv, [{"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}])
    page = ctx.new_page()
    sign_in(page, srv, key["AccessKeyId"], key["SecretAccessKey"])
    expect(page.locator("main")).to_contain_text(key["UserName"])
    nav(page, "Keys").click()
    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("AccessDeniedException")
    expect(alert).to_contain_text("kms:ListKeys")
    shot(page, "12-access-denied")
    nav(page, "Secrets").click()
    expect(page.get_by_role("alert").first).to_contain_text("AccessDeniedException")
    denied = [e for e in events(srv, "ListKeys") if e.get("errorCode") == "AccessDeniedException"]
    assert any(e["userIdentity"].get("userName") == key["UserName"] and e["userAgent"] == "trent-console" for e in denied)


def test_csrf_refused_without_the_forms_token(srv, ctx):
    page = ctx.new_page()
    sign_in(page, srv)
    expect(page).to_have_url(re.compile(r"/console/$"))
    kms = client("kms", srv)
    before = len(kms.list_keys(Limit=1000)["Keys"])
    # A raw POST with the session cookie but no token, and one with a wrong token.
    for form in [{"spec": "SYMMETRIC_DEFAULT", "usage": "ENCRYPT_DECRYPT"},
                 {"spec": "SYMMETRIC_DEFAULT", "usage": "ENCRYPT_DECRYPT", "csrf": "0" * 64}]:
        r = ctx.request.post(f"{srv.base_url}/console/keys/create", form=form, max_redirects=0)
        assert r.status == 403, r.status
        assert "CSRF" in r.text()
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before
    # The sign-in form's own token: a POST without it is refused too.
    r = requests.post(
        f"{srv.base_url}/console/signin",
        data={"access_key_id": ADMIN_ACCESS_KEY_ID, "secret_access_key": ADMIN_SECRET_ACCESS_KEY},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403 and "trent_console=" not in r.headers.get("Set-Cookie", "")


def test_identity_page_creates_a_user_and_shows_the_new_secret_once(srv, ctx):
    page = ctx.new_page()
    sign_in(page, srv)
    nav(page, "Identity").click()
    user = f"console-new-{uuid.uuid4().hex[:6]}"
    page.get_by_text("Create user", exact=True).first.click()
    page.get_by_label("User name").fill(user)
    page.get_by_role("button", name="Create user").click()
    row = page.locator("tbody tr", has_text=user)
    expect(row).to_be_visible()
    row.get_by_role("button", name="Create access key").click()
    akid = page.get_by_test_id("new-access-key-id").inner_text()
    secret = page.get_by_test_id("new-secret").inner_text()
    shot(page, "13-identity")
    who = boto3.session.Session().client(
        "sts", endpoint_url=srv.base_url, region_name="us-east-1",
        aws_access_key_id=akid, aws_secret_access_key=secret,
    ).get_caller_identity()
    assert who["Arn"].endswith(f":user/{user}")
    page.reload()
    assert secret not in page.content(), "the secret is shown once"


def test_session_ends_when_its_access_key_is_deactivated(srv, ctx):
    key = new_user(srv, [{"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}])
    page = ctx.new_page()
    sign_in(page, srv, key["AccessKeyId"], key["SecretAccessKey"])
    expect(page).to_have_url(re.compile(r"/console/$"))
    iam(srv).update_access_key(UserName=key["UserName"], AccessKeyId=key["AccessKeyId"], Status="Inactive")
    time.sleep(1.2)  # the key cache re-reads a key's record after 1 s
    page.goto(f"{srv.base_url}/console/keys")
    expect(page).to_have_url(re.compile(r"/console/signin\?ended=key"))
    expect(page.get_by_role("status")).to_contain_text("no longer active")


def test_small_screen_layout(srv, browser):
    c = browser.new_context(viewport={"width": 390, "height": 844})
    c.set_default_timeout(TIMEOUT_MS)
    try:
        page = c.new_page()
        sign_in(page, srv)
        page.goto(f"{srv.base_url}/console/keys")
        expect(nav(page, "Keys")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide at 390px"
        shot(page, "14-keys-mobile")
    finally:
        c.close()


def test_idle_session_expires(tmp_path_factory, browser):
    work = tmp_path_factory.mktemp("trent-console-idle")
    s = TrentServer(work / "data", work, {"TRENT_CONSOLE_SESSION_IDLE_SECS": "2"})
    s.start()
    c = browser.new_context()
    c.set_default_timeout(TIMEOUT_MS)
    try:
        page = c.new_page()
        sign_in(page, s)
        expect(page).to_have_url(re.compile(r"/console/$"))
        page.goto(f"{s.base_url}/console/keys")
        expect(page).to_have_url(re.compile(r"/console/keys"))
        time.sleep(2.5)
        page.goto(f"{s.base_url}/console/keys")
        expect(page).to_have_url(re.compile(r"/console/signin\?ended=1"))
        expect(page.get_by_role("status")).to_contain_text("session has ended")
    finally:
        c.close()
        s.kill()
