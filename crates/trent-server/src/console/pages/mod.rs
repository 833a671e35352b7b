//! The console's pages. Every value is interpolated by maud, which escapes it; nothing here
//! builds HTML by string concatenation and there is no `PreEscaped` of data.

pub mod audit;
pub mod identity;
pub mod keys;
pub mod overview;
pub mod params;
pub mod secrets;
pub mod signin;

use super::api::{ApiError, Ctx};
use super::{Out, Req};
use crate::App;
use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

/// A signed-in request.
pub struct Page<'a> {
    pub app: &'a App,
    pub r: &'a Req,
    pub ctx: Ctx<'a>,
    /// The session cookie's value (to change the session's region).
    pub token: &'a str,
}

/// The navigation: (label, path).
const NAV: [(&str, &str); 6] = [
    ("Overview", "/console/"),
    ("Keys", "/console/keys"),
    ("Parameters", "/console/parameters"),
    ("Secrets", "/console/secrets"),
    ("Audit events", "/console/audit"),
    ("Identity", "/console/identity"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Trent console" }
            // No favicon request (it would be an AWS-path 404 in the metrics).
            link rel="icon" href="data:,";
            link rel="stylesheet" href="/console/static/console.css";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A page with no session (errors before sign-in, refusals).
pub fn message(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main.narrow {
                    h1 { (title) }
                    p role="alert" { (text) }
                    p { a href="/console/" { "Back to the console" } }
                }
            }
        }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf(p: &Page) -> Markup {
    html! { input type="hidden" name="csrf" value=(p.ctx.session.csrf); }
}

/// An API error, as the page shows it.
pub fn error(e: &ApiError) -> Markup {
    html! {
        div.error role="alert" {
            strong { (e.code) } ": " (e.message)
        }
    }
}

/// A confirmation after a redirect (`?done=…`, one of a fixed set).
pub fn notice(p: &Page) -> Markup {
    let text = match p.r.query.get("done") {
        "created" => "Created.",
        "enabled" => "The key is enabled.",
        "disabled" => "The key is disabled.",
        "scheduled" => "The key's deletion is scheduled.",
        "cancelled" => "The key's deletion is cancelled; the key is disabled.",
        "rotated" => "Rotated.",
        "policy" => "The key policy is saved.",
        "saved" => "Saved.",
        _ => return html! {},
    };
    html! { div.notice role="status" { (text) } }
}

/// The frame of every signed-in page: navigation, region selector, who is signed in.
pub fn layout(p: &Page, title: &str, active: &str, content: Markup) -> Markup {
    let s = p.ctx.session;
    let arn = s.principal.arn(trent_policy::partition_for_region(&s.region));
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/console/" { "Trent" }
                    nav aria-label="Main" {
                        ul {
                            @for (label, href) in NAV {
                                li { a href=(href) aria-current=[(label == active).then_some("page")] { (label) } }
                            }
                        }
                    }
                    form.region method="post" action="/console/region" {
                        (csrf(p))
                        label for="region" { "Region" }
                        select #region name="region" data-autosubmit {
                            @for r in super::regions(p.app) {
                                option value=(r) selected[r == s.region] { (r) }
                            }
                        }
                        button type="submit" { "Switch region" }
                    }
                    div.who {
                        span title=(arn) { (arn) }
                        form method="post" action="/console/signout" {
                            (csrf(p))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (notice(p))
                    (content)
                }
            }
        }
    }
}

pub fn not_found(p: &Page) -> Out {
    Out::html(layout(p, "Not found", "", html! { p { "There is no such console page." } }))
        .status(StatusCode::NOT_FOUND)
}

/// `v[k]` as text ("" when absent).
pub fn s<'v>(v: &'v Value, k: &str) -> &'v str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// An epoch-seconds timestamp (AWS JSON) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn when(v: Option<&Value>) -> String {
    let Some(secs) = v.and_then(Value::as_f64) else { return "—".into() };
    match time::OffsetDateTime::from_unix_timestamp(secs as i64) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "—".into(),
    }
}

/// Pretty JSON for display.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The query string value encoded for a link.
pub fn q(v: &str) -> String {
    super::api::enc(v)
}

pub fn route(p: &Page, post: bool) -> Out {
    let path = p.r.path.as_str();
    match (post, path) {
        (false, "/console/") => overview::page(p),
        (true, "/console/signout") => signin::sign_out(p),
        (true, "/console/region") => switch_region(p),
        (false, "/console/keys") => keys::list(p),
        (false, "/console/keys/view") => keys::view(p, keys::Extra::default()),
        (true, "/console/keys/create") => keys::create(p),
        (true, "/console/keys/action") => keys::action(p),
        (false, "/console/parameters") => params::tree(p, None),
        (false, "/console/parameters/view") => params::view(p, false, None),
        (true, "/console/parameters/show") => params::view(p, true, None),
        (true, "/console/parameters/put") => params::put(p),
        (false, "/console/secrets") => secrets::list(p, None),
        (false, "/console/secrets/view") => secrets::view(p, secrets::Extra::default()),
        (true, "/console/secrets/value") => secrets::value(p),
        (true, "/console/secrets/rotate") => secrets::rotate(p),
        (true, "/console/secrets/put") => secrets::put(p),
        (true, "/console/secrets/create") => secrets::create(p),
        (false, "/console/audit") => audit::page(p),
        (false, "/console/identity") => identity::page(p, None),
        (true, "/console/identity/user") => identity::create_user(p),
        (true, "/console/identity/access-key") => identity::create_access_key(p),
        _ => not_found(p),
    }
}

fn switch_region(p: &Page) -> Out {
    let region = p.r.form.get("region");
    if !trent_wire::regions::is_known(region) {
        return Out::html(layout(
            p,
            "Region",
            "",
            error(&ApiError::new("ValidationException", "That region is not served by this trentd.")),
        ))
        .status(StatusCode::BAD_REQUEST);
    }
    p.app.console_sessions.set_region(p.token, region);
    Out::redirect("/console/")
}
