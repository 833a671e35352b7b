//! Sign-in and sign-out.

use super::super::{api, session, Out, Req, COOKIE, PRE_COOKIE};
use super::Page;
use crate::App;
use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};
use std::time::Instant;

/// The region a new session starts in.
const DEFAULT_REGION: &str = "us-east-1";

fn form(pre: &str, error: Option<&str>, info: Option<&str>, akid: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (super::head("Sign in"))
            body {
                main.narrow {
                    h1 { "Sign in to Trent" }
                    @if let Some(i) = info { p.notice role="status" { (i) } }
                    @if let Some(e) = error { div.error role="alert" { (e) } }
                    form.signin method="post" action="/console/signin" autocomplete="off" {
                        input type="hidden" name="pre" value=(pre);
                        label for="akid" { "Access key ID" }
                        input #akid type="text" name="access_key_id" value=(akid) required autocomplete="username" spellcheck="false" maxlength="128";
                        label for="secret" { "Secret access key" }
                        input #secret type="password" name="secret_access_key" required autocomplete="current-password" maxlength="256";
                        button type="submit" { "Sign in" }
                    }
                    p.hint { "Any IAM user's access key works. The secret is checked once and never stored." }
                }
            }
        }
    }
}

pub fn handle(app: &App, r: &Req) -> Out {
    let post = r.method == axum::http::Method::POST;
    if !post {
        if r.session_cookie.as_deref().and_then(|t| app.console_sessions.get(t, Instant::now())).is_some() {
            return Out::redirect("/console/");
        }
        let info = match r.query.get("ended") {
            "1" => Some("Your session has ended. Sign in again."),
            "key" => Some("Your access key is no longer active, so your session has ended."),
            _ if r.query.get("signedout") == "1" => Some("You are signed out."),
            _ => None,
        };
        let (pre, new) = match &r.pre_cookie {
            Some(p) => (p.clone(), false),
            None => (session::random_token().unwrap_or_default(), true),
        };
        let mut out = Out::html(form(&pre, None, info, ""));
        if new {
            out.cookies.push(format!("{PRE_COOKIE}={pre}"));
        }
        return out;
    }
    // The sign-in form's CSRF check: its hidden token must equal the cookie set with it.
    let pre = r.pre_cookie.as_deref().unwrap_or("");
    if pre.is_empty() || !session::tokens_match(r.form.get("pre"), pre) {
        return super::super::csrf_refused();
    }
    let akid = r.form.get("access_key_id").trim();
    let secret = r.form.get("secret_access_key");
    let failed = |msg: &str| Out::html(form(pre, Some(msg), None, akid)).status(StatusCode::UNAUTHORIZED);
    if akid.is_empty() || secret.is_empty() {
        return failed("Enter an access key ID and its secret access key.");
    }
    match api::sign_in(app, akid, secret, DEFAULT_REGION, &r.source_ip) {
        Ok(principal) => {
            let Some(token) = app.console_sessions.create(akid, principal, DEFAULT_REGION, Instant::now()) else {
                return failed("The session could not be created. Try again.");
            };
            let mut out = Out::redirect("/console/");
            out.cookies.push(format!("{COOKIE}={token}"));
            out.cookies.push(format!("{PRE_COOKIE}=; Max-Age=0"));
            out
        }
        Err(e) if e.code == "ThrottlingException" => failed("Too many sign-in attempts. Wait a moment and try again."),
        Err(e) if e.code.ends_with("Failure") || e.code.starts_with("Internal") || e.code == "ServiceFailure" => {
            failed("Sign-in could not be completed. Try again later.")
        }
        Err(e) => failed(&format!(
            "Sign-in failed: the access key ID and secret access key do not match an active key ({}).",
            e.code
        )),
    }
}

pub fn sign_out(p: &Page) -> Out {
    p.app.console_sessions.remove(p.token);
    let mut out = Out::redirect("/console/signin?signedout=1");
    out.cookies.push(format!("{COOKIE}=; Max-Age=0"));
    out
}
