//! Parameters: the hierarchy as a tree, a parameter's page (value, SecureString hidden until
//! "Show value", versions, labels, policies), create and edit.

use super::super::api::ApiError;
use super::super::Out;
use super::{csrf, error, layout, q, s, when, Page};
use axum::http::StatusCode;
use maud::{html, Markup};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A folder of the tree: sub-folders and the parameters in it.
#[derive(Default)]
struct Folder {
    children: BTreeMap<String, Folder>,
    params: Vec<(String, Value)>,
}

fn render(folder: &Folder, path: &str) -> Markup {
    html! {
        ul.tree {
            @for (name, child) in &folder.children {
                @let sub = format!("{path}{name}/");
                li { details open { summary { span.folder { (name) "/" } } (render(child, &sub)) } }
            }
            @for (name, meta) in &folder.params {
                li {
                    a href={ "/console/parameters/view?name=" (q(s(meta, "Name"))) } { (name) }
                    " " span.badge { (s(meta, "Type")) }
                }
            }
        }
    }
}

/// The create (no `name`) or edit form; `current_type` preselects the type being edited.
fn form(p: &Page, name: Option<&str>, current_type: &str, err: Option<&ApiError>) -> Markup {
    let f = &p.r.form;
    let ty = f.opt("type").unwrap_or(current_type);
    html! {
        @if let Some(e) = err { (error(e)) }
        form method="post" action="/console/parameters/put" {
            (csrf(p))
            @if let Some(n) = name {
                input type="hidden" name="name" value=(n);
                input type="hidden" name="overwrite" value="true";
            } @else {
                label for="pname" { "Name" }
                input #pname type="text" name="name" value=(f.get("name")) required maxlength="2048" placeholder="/app/prod/db-url";
            }
            label for="ptype" { "Type" }
            select #ptype name="type" {
                @for t in ["String", "StringList", "SecureString"] { option value=(t) selected[t == ty] { (t) } }
            }
            label for="pvalue" { "Value" }
            textarea #pvalue name="value" rows="3" required {}
            label for="pdesc" { "Description" }
            input #pdesc type="text" name="description" value=(f.get("description")) maxlength="1024";
            button type="submit" { (if name.is_some() { "Save new version" } else { "Create parameter" }) }
        }
    }
}

pub fn tree(p: &Page, err: Option<&ApiError>) -> Out {
    let mut root = Folder::default();
    let mut listed: Result<usize, ApiError> = Ok(0);
    let mut token: Option<String> = None;
    for _ in 0..40 {
        let mut body = json!({"MaxResults": 50});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        match p.ctx.ssm("DescribeParameters", body) {
            Ok(r) => {
                for meta in r["Parameters"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    let name = s(meta, "Name");
                    let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
                    let (leaf, dirs) = parts.split_last().map_or(("", &[][..]), |(l, d)| (*l, d));
                    let mut f = &mut root;
                    for d in dirs {
                        f = f.children.entry((*d).to_string()).or_default();
                    }
                    f.params.push((leaf.to_string(), meta.clone()));
                    if let Ok(n) = &mut listed {
                        *n += 1;
                    }
                }
                match r.get("NextToken").and_then(Value::as_str) {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            Err(e) => {
                listed = Err(e);
                break;
            }
        }
    }
    let content = html! {
        details.panel open[err.is_some()] {
            summary { "Create parameter" }
            (form(p, None, "String", err))
        }
        @match &listed {
            Ok(0) => p { "No parameters in " (p.ctx.session.region) "." },
            Ok(_) => nav aria-label="Parameter tree" { (render(&root, "/")) },
            Err(e) => (error(e)),
        }
    };
    let status = if err.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Out::html(layout(p, "Parameters", "Parameters", content)).status(status)
}

/// A parameter's page; `reveal` (the "Show value" POST) decrypts a SecureString.
pub fn view(p: &Page, reveal: bool, err: Option<&ApiError>) -> Out {
    let name = if p.r.form.opt("name").is_some() { p.r.form.get("name") } else { p.r.query.get("name") }.to_string();
    let got = p.ctx.ssm("GetParameter", json!({"Name": name, "WithDecryption": reveal}));
    let param = match got {
        Ok(r) => r["Parameter"].clone(),
        Err(e) => {
            let status = if e.code == "ParameterNotFound" { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            return Out::html(layout(p, "Parameter", "Parameters", error(&e))).status(status);
        }
    };
    let secure = s(&param, "Type") == "SecureString";
    let history = p.ctx.ssm("GetParameterHistory", json!({"Name": name, "MaxResults": 50}));
    let content = html! {
        dl.meta {
            dt { "Name" } dd { (s(&param, "Name")) }
            dt { "Type" } dd { (s(&param, "Type")) }
            dt { "Version" } dd { (param["Version"].as_u64().unwrap_or(0)) }
            dt { "ARN" } dd { (s(&param, "ARN")) }
            dt { "Last modified" } dd { (when(param.get("LastModifiedDate"))) }
            dt { "Value" }
            dd {
                @if secure && !reveal {
                    span.hidden-value { "Hidden (SecureString)" }
                    form.inline method="post" action="/console/parameters/show" {
                        (csrf(p))
                        input type="hidden" name="name" value=(name);
                        button type="submit" { "Show value" }
                    }
                } @else {
                    pre.value data-testid="parameter-value" { (s(&param, "Value")) }
                }
            }
        }
        h2 { "Versions" }
        @match &history {
            Ok(h) => div.scroll { table {
                thead { tr { th scope="col" { "Version" } th scope="col" { "Modified" } th scope="col" { "By" } th scope="col" { "Labels" } th scope="col" { "Tier" } th scope="col" { "Policies" } th scope="col" { "Description" } } }
                tbody {
                    @for v in h["Parameters"].as_array().map(Vec::as_slice).unwrap_or_default().iter().rev() {
                        tr {
                            td { (v["Version"].as_u64().unwrap_or(0)) }
                            td { (when(v.get("LastModifiedDate"))) }
                            td { (s(v, "LastModifiedUser")) }
                            td { (v["Labels"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            td { (s(v, "Tier")) }
                            td { @for pol in v["Policies"].as_array().map(Vec::as_slice).unwrap_or_default() { code { (s(pol, "PolicyText")) } " " } }
                            td { (s(v, "Description")) }
                        }
                    }
                }
            } }
            Err(e) => (error(e)),
        }
        h2 { "Edit" }
        (form(p, Some(&name), s(&param, "Type"), err))
    };
    let title = format!("Parameter {name}");
    let status = if err.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Out::html(layout(p, &title, "Parameters", content)).status(status)
}

pub fn put(p: &Page) -> Out {
    let f = &p.r.form;
    let overwrite = f.get("overwrite") == "true";
    let mut body =
        json!({"Name": f.get("name"), "Type": f.get("type"), "Value": f.get("value"), "Overwrite": overwrite});
    if let Some(d) = f.opt("description") {
        body["Description"] = json!(d);
    }
    match p.ctx.ssm("PutParameter", body) {
        Ok(_) => Out::redirect(&format!("/console/parameters/view?name={}&done=saved", q(f.get("name")))),
        Err(e) if overwrite => view(p, false, Some(&e)),
        Err(e) => tree(p, Some(&e)),
    }
}
