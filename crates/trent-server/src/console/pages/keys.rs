//! Keys: the list (filter, pages), a key's page (metadata, aliases, tags, policy, grants,
//! rotation, state changes, the encrypt/decrypt scratchpad) and "Create key".

use super::super::api::ApiError;
use super::super::Out;
use super::{csrf, error, layout, pretty, q, s, when, Page};
use axum::http::StatusCode;
use base64::Engine as _;
use maud::{html, Markup};
use serde_json::{json, Value};

const SPECS: [&str; 14] = [
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "ML_DSA_65",
];
const USAGES: [&str; 4] = ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"];

/// Most keys on one page.
const PAGE: u64 = 25;

/// Every alias of the account in the region (ListAliases, a few pages at most).
fn aliases(p: &Page) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..20 {
        let mut body = json!({"Limit": 100});
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        let r = p.ctx.kms("ListAliases", body)?;
        out.extend(r["Aliases"].as_array().cloned().unwrap_or_default());
        match r.get("NextMarker").and_then(Value::as_str) {
            Some(m) if r["Truncated"].as_bool() == Some(true) => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

fn create_form(p: &Page, err: Option<&ApiError>) -> Markup {
    let f = &p.r.form;
    html! {
        details.panel open[err.is_some()] {
            summary { "Create key" }
            @if let Some(e) = err { (error(e)) }
            form method="post" action="/console/keys/create" {
                (csrf(p))
                label for="spec" { "Key spec" }
                select #spec name="spec" {
                    @for sp in SPECS { option value=(sp) selected[f.get("spec") == sp] { (sp) } }
                }
                label for="usage" { "Key usage" }
                select #usage name="usage" {
                    @for u in USAGES { option value=(u) selected[f.get("usage") == u] { (u) } }
                }
                label for="alias" { "Alias (optional)" }
                input #alias type="text" name="alias" placeholder="alias/my-key" value=(f.get("alias")) maxlength="256";
                label for="description" { "Description" }
                input #description type="text" name="description" value=(f.get("description")) maxlength="8192";
                button type="submit" { "Create key" }
            }
        }
    }
}

pub fn list(p: &Page) -> Out {
    list_with(p, None)
}

fn list_with(p: &Page, create_err: Option<&ApiError>) -> Out {
    let filter = p.r.query.get("filter").to_lowercase();
    let mut body = json!({"Limit": PAGE});
    if let Some(m) = p.r.query.opt("marker") {
        body["Marker"] = json!(m);
    }
    let listed = p.ctx.kms("ListKeys", body);
    let content = match listed {
        Err(e) => html! { (create_form(p, create_err)) (error(&e)) },
        Ok(r) => {
            let all_aliases = aliases(p).unwrap_or_default();
            let mut rows = Vec::new();
            let mut errors = Vec::new();
            for k in r["Keys"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let id = s(k, "KeyId");
                let names: Vec<&str> =
                    all_aliases.iter().filter(|a| s(a, "TargetKeyId") == id).map(|a| s(a, "AliasName")).collect();
                let (meta, rotation) = match p.ctx.kms("DescribeKey", json!({"KeyId": id})) {
                    Ok(d) => {
                        let m = d["KeyMetadata"].clone();
                        let rot = if s(&m, "KeySpec") == "SYMMETRIC_DEFAULT" && s(&m, "KeyManager") == "CUSTOMER" {
                            match p.ctx.kms("GetKeyRotationStatus", json!({"KeyId": id})) {
                                Ok(r) if r["KeyRotationEnabled"].as_bool() == Some(true) => "Enabled".to_string(),
                                Ok(_) => "Disabled".to_string(),
                                Err(e) => e.code,
                            }
                        } else {
                            "—".to_string()
                        };
                        (m, rot)
                    }
                    Err(e) => {
                        errors.push(e);
                        (json!({}), "—".to_string())
                    }
                };
                let hay = format!("{} {} {}", names.join(" "), id, s(&meta, "Description")).to_lowercase();
                if !filter.is_empty() && !hay.contains(&filter) {
                    continue;
                }
                rows.push((id.to_string(), names.join(", "), meta, rotation));
            }
            let next = r.get("NextMarker").and_then(Value::as_str).filter(|_| r["Truncated"].as_bool() == Some(true));
            html! {
                (create_form(p, create_err))
                form.filter method="get" action="/console/keys" role="search" {
                    label for="filter" { "Filter" }
                    input #filter type="search" name="filter" value=(p.r.query.get("filter")) placeholder="alias, key id or description";
                    button type="submit" { "Filter" }
                }
                @for e in &errors { (error(e)) }
                div.scroll {
                    table {
                        caption { "Keys in " (p.ctx.session.region) }
                        thead { tr { th scope="col" { "Alias" } th scope="col" { "Key ID" } th scope="col" { "Description" } th scope="col" { "Spec" } th scope="col" { "Usage" } th scope="col" { "State" } th scope="col" { "Rotation" } } }
                        tbody {
                            @for (id, alias, meta, rot) in &rows {
                                tr {
                                    td { (alias) }
                                    td { a href={ "/console/keys/view?id=" (q(id)) } { code { (id) } } }
                                    td { (s(meta, "Description")) }
                                    td { (s(meta, "KeySpec")) }
                                    td { (s(meta, "KeyUsage")) }
                                    td { (s(meta, "KeyState")) }
                                    td { (rot) }
                                }
                            }
                            @if rows.is_empty() { tr { td colspan="7" { "No keys." } } }
                        }
                    }
                }
                @if let Some(m) = next {
                    p { a href={ "/console/keys?marker=" (q(m)) "&filter=" (q(p.r.query.get("filter"))) } { "Next page" } }
                }
            }
        }
    };
    let status = if create_err.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Out::html(layout(p, "Keys", "Keys", content)).status(status)
}

pub fn create(p: &Page) -> Out {
    let f = &p.r.form;
    let mut body = json!({"KeySpec": f.get("spec"), "KeyUsage": f.get("usage")});
    if let Some(d) = f.opt("description") {
        body["Description"] = json!(d);
    }
    let created = match p.ctx.kms("CreateKey", body) {
        Ok(r) => r,
        Err(e) => return list_with(p, Some(&e)),
    };
    let id = s(&created["KeyMetadata"], "KeyId").to_string();
    if let Some(alias) = f.opt("alias") {
        let alias = if alias.starts_with("alias/") { alias.to_string() } else { format!("alias/{alias}") };
        if let Err(e) = p.ctx.kms("CreateAlias", json!({"AliasName": alias, "TargetKeyId": id})) {
            let extra = Extra { id: Some(id), alias_error: Some(e), ..Extra::default() };
            return view(p, extra).status(StatusCode::BAD_REQUEST);
        }
    }
    Out::redirect(&format!("/console/keys/view?id={}&done=created", q(&id)))
}

/// What a POST adds to the key's page: results and errors shown inline.
#[derive(Default)]
pub struct Extra {
    pub id: Option<String>,
    pub alias_error: Option<ApiError>,
    pub action_error: Option<ApiError>,
    pub policy_error: Option<(ApiError, String)>,
    pub ciphertext: Option<Result<String, ApiError>>,
    pub plaintext: Option<Result<String, ApiError>>,
}

pub fn view(p: &Page, extra: Extra) -> Out {
    let id = extra.id.clone().unwrap_or_else(|| p.r.query.get("id").to_string());
    let d = match p.ctx.kms("DescribeKey", json!({"KeyId": id})) {
        Ok(d) => d,
        Err(e) => {
            let status = if e.code == "NotFoundException" { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            return Out::html(layout(p, "Key", "Keys", error(&e))).status(status);
        }
    };
    let m = &d["KeyMetadata"];
    let key_id = s(m, "KeyId").to_string();
    let ctx = &p.ctx;
    let aliases = ctx.kms("ListAliases", json!({"KeyId": key_id}));
    let tags = ctx.kms("ListResourceTags", json!({"KeyId": key_id}));
    let policy = ctx.kms("GetKeyPolicy", json!({"KeyId": key_id, "PolicyName": "default"}));
    let grants = ctx.kms("ListGrants", json!({"KeyId": key_id}));
    let symmetric = s(m, "KeySpec") == "SYMMETRIC_DEFAULT";
    let rotation = symmetric.then(|| ctx.kms("GetKeyRotationStatus", json!({"KeyId": key_id})));
    let rotations = symmetric.then(|| ctx.kms("ListKeyRotations", json!({"KeyId": key_id})));
    let state = s(m, "KeyState");
    let policy_text = match (&extra.policy_error, &policy) {
        (Some((_, text)), _) => text.clone(),
        (None, Ok(pv)) => pv["Policy"]
            .as_str()
            .map(|t| serde_json::from_str::<Value>(t).map(|v| pretty(&v)).unwrap_or_else(|_| t.to_string()))
            .unwrap_or_default(),
        (None, Err(_)) => String::new(),
    };
    let fields: [(&str, String); 10] = [
        ("Key ID", key_id.clone()),
        ("ARN", s(m, "Arn").to_string()),
        ("Description", s(m, "Description").to_string()),
        ("State", state.to_string()),
        ("Key spec", s(m, "KeySpec").to_string()),
        ("Key usage", s(m, "KeyUsage").to_string()),
        ("Origin", s(m, "Origin").to_string()),
        ("Key manager", s(m, "KeyManager").to_string()),
        ("Created", when(m.get("CreationDate"))),
        ("Deletion date", when(m.get("DeletionDate"))),
    ];
    let content = html! {
        @if let Some(e) = &extra.alias_error { (error(e)) }
        @if let Some(e) = &extra.action_error { (error(e)) }
        section aria-labelledby="meta-h" {
            h2 #meta-h { "Metadata" }
            dl.meta {
                @for (k, v) in &fields { dt { (k) } dd { (v) } }
            }
        }
        section aria-labelledby="actions-h" {
            h2 #actions-h { "Actions" }
            div.actions {
                @if state == "Enabled" {
                    (action_form(p, &key_id, "disable", "Disable", html!{}))
                } @else if state == "Disabled" {
                    (action_form(p, &key_id, "enable", "Enable", html!{}))
                }
                @if state == "PendingDeletion" {
                    (action_form(p, &key_id, "cancel-deletion", "Cancel deletion", html!{}))
                } @else {
                    (action_form(p, &key_id, "schedule-deletion", "Schedule deletion", html! {
                        label for="days" { "Waiting period (7–30 days)" }
                        input #days type="number" name="days" min="7" max="30" value="30" required;
                    }))
                }
                @if symmetric {
                    (action_form(p, &key_id, "rotate", "Rotate now", html!{}))
                }
            }
        }
        @if symmetric && state == "Enabled" {
            section aria-labelledby="pad-h" {
                h2 #pad-h { "Encrypt / decrypt scratchpad" }
                div.pad {
                    form method="post" action="/console/keys/action" {
                        (csrf(p))
                        input type="hidden" name="id" value=(key_id);
                        input type="hidden" name="action" value="encrypt";
                        label for="plaintext" { "Plaintext" }
                        textarea #plaintext name="plaintext" rows="4" maxlength="4096" {}
                        button type="submit" { "Encrypt" }
                        @match &extra.ciphertext {
                            Some(Ok(c)) => { label for="ciphertext-out" { "Ciphertext (base64)" } textarea #ciphertext-out readonly rows="4" { (c) } }
                            Some(Err(e)) => (error(e)),
                            None => {}
                        }
                    }
                    form method="post" action="/console/keys/action" {
                        (csrf(p))
                        input type="hidden" name="id" value=(key_id);
                        input type="hidden" name="action" value="decrypt";
                        label for="ciphertext" { "Ciphertext to decrypt (base64)" }
                        textarea #ciphertext name="ciphertext" rows="4" {}
                        button type="submit" { "Decrypt" }
                        @match &extra.plaintext {
                            Some(Ok(t)) => { label for="plaintext-out" { "Decrypted plaintext" } textarea #plaintext-out readonly rows="4" { (t) } }
                            Some(Err(e)) => (error(e)),
                            None => {}
                        }
                    }
                }
            }
        }
        section aria-labelledby="aliases-h" {
            h2 #aliases-h { "Aliases" }
            @match &aliases {
                Ok(a) => ul { @for x in a["Aliases"].as_array().map(Vec::as_slice).unwrap_or_default() { li { code { (s(x, "AliasName")) } } } }
                Err(e) => (error(e)),
            }
        }
        section aria-labelledby="tags-h" {
            h2 #tags-h { "Tags" }
            @match &tags {
                Ok(t) => table { thead { tr { th scope="col" { "Key" } th scope="col" { "Value" } } } tbody {
                    @for x in t["Tags"].as_array().map(Vec::as_slice).unwrap_or_default() { tr { td { (s(x, "TagKey")) } td { (s(x, "TagValue")) } } }
                } }
                Err(e) => (error(e)),
            }
        }
        section aria-labelledby="policy-h" {
            h2 #policy-h { "Key policy" }
            @if let Err(e) = &policy { (error(e)) }
            @if let Some((e, _)) = &extra.policy_error { (error(e)) }
            form method="post" action="/console/keys/action" {
                (csrf(p))
                input type="hidden" name="id" value=(key_id);
                input type="hidden" name="action" value="policy";
                label for="policy" { "Policy document (JSON)" }
                textarea #policy.code name="policy" rows="16" spellcheck="false" { (policy_text) }
                button type="submit" { "Save policy" }
            }
        }
        section aria-labelledby="rotation-h" {
            h2 #rotation-h { "Rotation" }
            @match &rotation {
                Some(Ok(r)) => p { "Automatic rotation: " strong { (if r["KeyRotationEnabled"].as_bool() == Some(true) { "enabled" } else { "disabled" }) }
                    @if let Some(days) = r.get("RotationPeriodInDays").and_then(Value::as_u64) { ", every " (days) " days" }
                    @if r.get("NextRotationDate").is_some() { ", next " (when(r.get("NextRotationDate"))) }
                    "." }
                Some(Err(e)) => (error(e)),
                None => p { "Only symmetric encryption keys rotate." },
            }
            @if let Some(Ok(r)) = &rotations {
                table { caption { "Rotation history" } thead { tr { th scope="col" { "Key material" } th scope="col" { "Rotated" } th scope="col" { "Type" } } } tbody {
                    @for x in r["Rotations"].as_array().map(Vec::as_slice).unwrap_or_default() {
                        tr { td { code { (s(x, "KeyMaterialId")) } } td { (when(x.get("RotationDate"))) } td { (s(x, "RotationType")) } }
                    }
                } }
            }
        }
        section aria-labelledby="grants-h" {
            h2 #grants-h { "Grants" }
            @match &grants {
                Ok(g) => table { thead { tr { th scope="col" { "Grant ID" } th scope="col" { "Grantee" } th scope="col" { "Operations" } th scope="col" { "Name" } } } tbody {
                    @for x in g["Grants"].as_array().map(Vec::as_slice).unwrap_or_default() {
                        tr { td { code { (s(x, "GrantId")) } } td { (s(x, "GranteePrincipal")) }
                             td { (x["Operations"].as_array().map(|o| o.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                             td { (s(x, "Name")) } }
                    }
                } }
                Err(e) => (error(e)),
            }
        }
    };
    let title = format!("Key {key_id}");
    Out::html(layout(p, &title, "Keys", content))
}

fn action_form(p: &Page, id: &str, action: &str, label: &str, fields: Markup) -> Markup {
    let confirm = (action == "schedule-deletion").then_some("Schedule this key for deletion?");
    html! {
        form.inline method="post" action="/console/keys/action" data-confirm=[confirm] {
            (csrf(p))
            input type="hidden" name="id" value=(id);
            input type="hidden" name="action" value=(action);
            (fields)
            button type="submit" { (label) }
        }
    }
}

pub fn action(p: &Page) -> Out {
    let f = &p.r.form;
    let id = f.get("id").to_string();
    let done = |what: &str| Out::redirect(&format!("/console/keys/view?id={}&done={what}", q(&id)));
    let fail = |e: ApiError| view(p, Extra { id: Some(id.clone()), action_error: Some(e), ..Extra::default() });
    let key = json!({"KeyId": id});
    match f.get("action") {
        "enable" => p.ctx.kms("EnableKey", key).map_or_else(fail, |_| done("enabled")),
        "disable" => p.ctx.kms("DisableKey", key).map_or_else(fail, |_| done("disabled")),
        "cancel-deletion" => p.ctx.kms("CancelKeyDeletion", key).map_or_else(fail, |_| done("cancelled")),
        "rotate" => p.ctx.kms("RotateKeyOnDemand", key).map_or_else(fail, |_| done("rotated")),
        "schedule-deletion" => {
            let days = match f.get("days").parse::<u32>() {
                Ok(d @ 7..=30) => d,
                _ => return fail(ApiError::new("ValidationException", "The waiting period must be 7 to 30 days.")),
            };
            p.ctx
                .kms("ScheduleKeyDeletion", json!({"KeyId": id, "PendingWindowInDays": days}))
                .map_or_else(fail, |_| done("scheduled"))
        }
        "policy" => {
            let text = f.get("policy").to_string();
            match p.ctx.kms("PutKeyPolicy", json!({"KeyId": id, "PolicyName": "default", "Policy": text})) {
                Ok(_) => done("policy"),
                Err(e) => view(p, Extra { id: Some(id.clone()), policy_error: Some((e, text)), ..Extra::default() })
                    .status(StatusCode::BAD_REQUEST),
            }
        }
        "encrypt" => {
            let pt = f.get("plaintext");
            let b64 = base64::engine::general_purpose::STANDARD.encode(pt.as_bytes());
            let r = p
                .ctx
                .kms("Encrypt", json!({"KeyId": id, "Plaintext": b64}))
                .map(|r| s(&r, "CiphertextBlob").to_string());
            view(p, Extra { id: Some(id.clone()), ciphertext: Some(r), ..Extra::default() })
        }
        "decrypt" => {
            let ct: String = f.get("ciphertext").chars().filter(|c| !c.is_whitespace()).collect();
            let r = p.ctx.kms("Decrypt", json!({"KeyId": id, "CiphertextBlob": ct})).map(|r| {
                let raw = base64::engine::general_purpose::STANDARD.decode(s(&r, "Plaintext")).unwrap_or_default();
                String::from_utf8_lossy(&raw).into_owned()
            });
            view(p, Extra { id: Some(id.clone()), plaintext: Some(r), ..Extra::default() })
        }
        _ => fail(ApiError::new("ValidationException", "Unknown action.")),
    }
}
