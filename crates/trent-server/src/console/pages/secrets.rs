//! Secrets: the list, a secret's page (versions and staging labels, "Retrieve secret value",
//! rotation configuration and "Rotate now", replication, resource policy), create and edit.

use super::super::api::ApiError;
use super::super::Out;
use super::{csrf, error, layout, pretty, q, s, when, Page};
use axum::http::StatusCode;
use maud::{html, Markup};
use serde_json::{json, Value};

fn create_form(p: &Page, err: Option<&ApiError>) -> Markup {
    let f = &p.r.form;
    html! {
        details.panel open[err.is_some()] {
            summary { "Create secret" }
            @if let Some(e) = err { (error(e)) }
            form method="post" action="/console/secrets/create" {
                (csrf(p))
                label for="sname" { "Name" }
                input #sname type="text" name="name" value=(f.get("name")) required maxlength="512";
                label for="sdesc" { "Description" }
                input #sdesc type="text" name="description" value=(f.get("description")) maxlength="2048";
                label for="svalue" { "Secret value" }
                textarea #svalue name="value" rows="3" required {}
                button type="submit" { "Create secret" }
            }
        }
    }
}

pub fn list(p: &Page, err: Option<&ApiError>) -> Out {
    let mut secrets = Vec::new();
    let mut failure = None;
    let mut token: Option<String> = None;
    for _ in 0..20 {
        let mut body = json!({"MaxResults": 100});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        match p.ctx.sm("ListSecrets", body) {
            Ok(r) => {
                secrets.extend(r["SecretList"].as_array().cloned().unwrap_or_default());
                match r.get("NextToken").and_then(Value::as_str) {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let content = html! {
        (create_form(p, err))
        @if let Some(e) = &failure { (error(e)) } @else {
            div.scroll { table {
                caption { "Secrets in " (p.ctx.session.region) }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Last accessed" } th scope="col" { "Last rotated" } th scope="col" { "Last changed" } th scope="col" { "Rotation" } } }
                tbody {
                    @for x in &secrets {
                        tr {
                            td { a href={ "/console/secrets/view?id=" (q(s(x, "ARN"))) } { (s(x, "Name")) } }
                            td { (s(x, "Description")) }
                            td { (when(x.get("LastAccessedDate"))) }
                            td { (when(x.get("LastRotatedDate"))) }
                            td { (when(x.get("LastChangedDate"))) }
                            td { (if x["RotationEnabled"].as_bool() == Some(true) { "Enabled" } else { "Disabled" }) }
                        }
                    }
                    @if secrets.is_empty() { tr { td colspan="6" { "No secrets." } } }
                }
            } }
        }
    };
    let status = if err.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Out::html(layout(p, "Secrets", "Secrets", content)).status(status)
}

/// What a POST adds to the secret's page.
#[derive(Default)]
pub struct Extra {
    pub value: Option<Result<Value, ApiError>>,
    pub error: Option<ApiError>,
}

fn secret_id(p: &Page) -> String {
    p.r.form.opt("id").unwrap_or(p.r.query.get("id")).to_string()
}

pub fn view(p: &Page, extra: Extra) -> Out {
    let id = secret_id(p);
    let d = match p.ctx.sm("DescribeSecret", json!({"SecretId": id})) {
        Ok(d) => d,
        Err(e) => {
            let status =
                if e.code == "ResourceNotFoundException" { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            return Out::html(layout(p, "Secret", "Secrets", error(&e))).status(status);
        }
    };
    let arn = s(&d, "ARN").to_string();
    let versions = p.ctx.sm("ListSecretVersionIds", json!({"SecretId": arn, "IncludeDeprecated": true}));
    let policy = p.ctx.sm("GetResourcePolicy", json!({"SecretId": arn}));
    let rules = &d["RotationRules"];
    let function = s(&d, "RotationLambdaARN");
    let content = html! {
        @if let Some(e) = &extra.error { (error(e)) }
        dl.meta {
            dt { "Name" } dd { (s(&d, "Name")) }
            dt { "ARN" } dd { (arn) }
            dt { "Description" } dd { (s(&d, "Description")) }
            dt { "KMS key" } dd { (if s(&d, "KmsKeyId").is_empty() { "aws/secretsmanager" } else { s(&d, "KmsKeyId") }) }
            dt { "Created" } dd { (when(d.get("CreatedDate"))) }
            dt { "Last accessed" } dd { (when(d.get("LastAccessedDate"))) }
            dt { "Last changed" } dd { (when(d.get("LastChangedDate"))) }
            dt { "Last rotated" } dd { (when(d.get("LastRotatedDate"))) }
            dt { "Deleted" } dd { (when(d.get("DeletedDate"))) }
        }
        section aria-labelledby="value-h" {
            h2 #value-h { "Secret value" }
            @match &extra.value {
                Some(Ok(v)) => {
                    p { "Version " code { (s(v, "VersionId")) } " (" (v["VersionStages"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) ")" }
                    @if v.get("SecretString").is_some() {
                        pre.value data-testid="secret-value" { (s(v, "SecretString")) }
                    } @else {
                        p { "Binary value (base64):" }
                        pre.value data-testid="secret-value" { (s(v, "SecretBinary")) }
                    }
                }
                Some(Err(e)) => (error(e)),
                None => {
                    form method="post" action="/console/secrets/value" {
                        (csrf(p))
                        input type="hidden" name="id" value=(arn);
                        button type="submit" { "Retrieve secret value" }
                    }
                    p.hint { "Retrieving the value is a GetSecretValue call, recorded in the audit trail." }
                }
            }
            details {
                summary { "Store a new value" }
                form method="post" action="/console/secrets/put" {
                    (csrf(p))
                    input type="hidden" name="id" value=(arn);
                    label for="newvalue" { "New secret value" }
                    textarea #newvalue name="value" rows="3" required {}
                    button type="submit" { "Store new version" }
                }
            }
        }
        section aria-labelledby="versions-h" {
            h2 #versions-h { "Versions" }
            @match &versions {
                Ok(v) => div.scroll { table {
                    thead { tr { th scope="col" { "Version ID" } th scope="col" { "Staging labels" } th scope="col" { "Created" } th scope="col" { "Last accessed" } } }
                    tbody { @for x in v["Versions"].as_array().map(Vec::as_slice).unwrap_or_default() {
                        tr {
                            td { code { (s(x, "VersionId")) } }
                            td { (x["VersionStages"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            td { (when(x.get("CreatedDate"))) }
                            td { (when(x.get("LastAccessedDate"))) }
                        }
                    } }
                } }
                Err(e) => (error(e)),
            }
        }
        section aria-labelledby="rotation-h" {
            h2 #rotation-h { "Rotation" }
            p { "Rotation: " strong { (if d["RotationEnabled"].as_bool() == Some(true) { "enabled" } else { "disabled" }) }
                @if !function.is_empty() { ", function " code { (function) } }
                @if let Some(days) = rules.get("AutomaticallyAfterDays").and_then(Value::as_u64) { ", every " (days) " days" }
                @if !s(rules, "ScheduleExpression").is_empty() { ", schedule " code { (s(rules, "ScheduleExpression")) } }
                @if d.get("NextRotationDate").is_some() { ", next " (when(d.get("NextRotationDate"))) }
                "." }
            form method="post" action="/console/secrets/rotate" {
                (csrf(p))
                input type="hidden" name="id" value=(arn);
                label for="function" { "Rotation function" }
                input #function type="text" name="function" value=(if function.is_empty() { "trent-generic" } else { function }) maxlength="2048";
                label for="days" { "Rotate automatically every (days, optional)" }
                input #days type="number" name="days" min="1" max="1000";
                button type="submit" { "Rotate now" }
            }
        }
        section aria-labelledby="repl-h" {
            h2 #repl-h { "Replication" }
            @let repl = d["ReplicationStatus"].as_array().map(Vec::as_slice).unwrap_or_default();
            @if repl.is_empty() { p { "Not replicated." } } @else {
                table { thead { tr { th scope="col" { "Region" } th scope="col" { "Status" } th scope="col" { "Message" } } } tbody {
                    @for x in repl { tr { td { (s(x, "Region")) } td { (s(x, "Status")) } td { (s(x, "StatusMessage")) } } }
                } }
            }
        }
        section aria-labelledby="policy-h" {
            h2 #policy-h { "Resource policy" }
            @match &policy {
                Ok(v) => {
                    @match v.get("ResourcePolicy").and_then(Value::as_str) {
                        Some(t) => pre.code { (serde_json::from_str::<Value>(t).map(|v| pretty(&v)).unwrap_or_else(|_| t.to_string())) },
                        None => p { "No resource policy." },
                    }
                },
                Err(e) => (error(e)),
            }
        }
        section aria-labelledby="tags-h" {
            h2 #tags-h { "Tags" }
            ul { @for t in d["Tags"].as_array().map(Vec::as_slice).unwrap_or_default() { li { (s(t, "Key")) " = " (s(t, "Value")) } } }
        }
    };
    let title = format!("Secret {}", s(&d, "Name"));
    let status = if extra.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Out::html(layout(p, &title, "Secrets", content)).status(status)
}

pub fn value(p: &Page) -> Out {
    let r = p.ctx.sm("GetSecretValue", json!({"SecretId": secret_id(p)}));
    view(p, Extra { value: Some(r), ..Extra::default() })
}

pub fn rotate(p: &Page) -> Out {
    let f = &p.r.form;
    let id = secret_id(p);
    let mut body = json!({"SecretId": id, "RotateImmediately": true});
    if let Some(func) = f.opt("function") {
        body["RotationLambdaARN"] = json!(func);
    }
    if let Some(days) = f.opt("days") {
        match days.parse::<u64>() {
            Ok(d @ 1..=1000) => body["RotationRules"] = json!({"AutomaticallyAfterDays": d}),
            _ => {
                let e = ApiError::new("ValidationException", "The rotation interval must be 1 to 1000 days.");
                return view(p, Extra { error: Some(e), ..Extra::default() });
            }
        }
    }
    match p.ctx.sm("RotateSecret", body) {
        Ok(_) => Out::redirect(&format!("/console/secrets/view?id={}&done=rotated", q(&id))),
        Err(e) => view(p, Extra { error: Some(e), ..Extra::default() }),
    }
}

pub fn put(p: &Page) -> Out {
    let id = secret_id(p);
    match p.ctx.sm("PutSecretValue", json!({"SecretId": id, "SecretString": p.r.form.get("value")})) {
        Ok(_) => Out::redirect(&format!("/console/secrets/view?id={}&done=saved", q(&id))),
        Err(e) => view(p, Extra { error: Some(e), ..Extra::default() }),
    }
}

pub fn create(p: &Page) -> Out {
    let f = &p.r.form;
    let mut body = json!({"Name": f.get("name"), "SecretString": f.get("value")});
    if let Some(d) = f.opt("description") {
        body["Description"] = json!(d);
    }
    match p.ctx.sm("CreateSecret", body) {
        Ok(r) => Out::redirect(&format!("/console/secrets/view?id={}&done=created", q(s(&r, "ARN")))),
        Err(e) => list(p, Some(&e)),
    }
}
