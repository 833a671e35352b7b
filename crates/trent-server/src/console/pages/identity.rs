//! Identity: IAM users (their policies and access keys) and roles; create a user, create an
//! access key (its secret shown once, in the answer to that POST only).

use super::super::api::{xml_members, xml_values, ApiError};
use super::super::Out;
use super::{csrf, error, layout, Page};
use axum::http::StatusCode;
use maud::{html, Markup};

fn first(xml: &str, tag: &str) -> String {
    xml_values(xml, tag).into_iter().next().unwrap_or_default()
}

/// A user: name, ARN, created, inline policies, attached policies, (access key id, status).
type UserRow = (String, String, String, Vec<String>, Vec<String>, Vec<(String, String)>);

/// What a POST shows on the page.
pub enum Shown {
    Error(ApiError),
    NewKey { user: String, access_key_id: String, secret: zeroize::Zeroizing<String> },
}

pub fn page(p: &Page, shown: Option<Shown>) -> Out {
    let users = p.ctx.iam("ListUsers", &[("MaxItems", "100")]);
    let roles = p.ctx.iam("ListRoles", &[("MaxItems", "100")]);
    let user_rows: Vec<UserRow> = match &users {
        Ok(x) => xml_members(x)
            .iter()
            .filter(|m| m.contains("<UserName>"))
            .map(|m| {
                let name = first(m, "UserName");
                let inline =
                    p.ctx.iam("ListUserPolicies", &[("UserName", name.as_str())]).map(|x| xml_values(&x, "member"));
                let attached = p
                    .ctx
                    .iam("ListAttachedUserPolicies", &[("UserName", name.as_str())])
                    .map(|x| xml_values(&x, "PolicyName"));
                let keys = p
                    .ctx
                    .iam("ListAccessKeys", &[("UserName", name.as_str())])
                    .map(|x| xml_members(&x).iter().map(|k| (first(k, "AccessKeyId"), first(k, "Status"))).collect());
                (
                    name,
                    first(m, "Arn"),
                    first(m, "CreateDate"),
                    inline.unwrap_or_default(),
                    attached.unwrap_or_default(),
                    keys.unwrap_or_default(),
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let shown_markup: Markup = match &shown {
        Some(Shown::Error(e)) => error(e),
        Some(Shown::NewKey { user, access_key_id, secret }) => html! {
            div.notice role="status" {
                p { "New access key for " strong { (user) } ". The secret is shown this once: copy it now." }
                dl.meta {
                    dt { "Access key ID" } dd { code data-testid="new-access-key-id" { (access_key_id) } }
                    dt { "Secret access key" } dd { code data-testid="new-secret" { (secret.as_str()) } }
                }
            }
        },
        None => html! {},
    };
    let content = html! {
        (shown_markup)
        section aria-labelledby="users-h" {
            h2 #users-h { "Users" }
            @match &users {
                Err(e) => (error(e)),
                Ok(_) => div.scroll { table {
                    thead { tr { th scope="col" { "User" } th scope="col" { "ARN" } th scope="col" { "Created" } th scope="col" { "Inline policies" } th scope="col" { "Attached policies" } th scope="col" { "Access keys" } th scope="col" { "" } } }
                    tbody {
                        @for (name, arn, created, inline, attached, keys) in &user_rows {
                            tr {
                                td { (name) }
                                td { code { (arn) } }
                                td { (created) }
                                td { (inline.join(", ")) }
                                td { (attached.join(", ")) }
                                td { @for (k, st) in keys { code { (k) } " (" (st) ") " } }
                                td {
                                    form.inline method="post" action="/console/identity/access-key" {
                                        (csrf(p))
                                        input type="hidden" name="user" value=(name);
                                        button type="submit" { "Create access key" }
                                    }
                                }
                            }
                        }
                        @if user_rows.is_empty() { tr { td colspan="7" { "No users." } } }
                    }
                } }
            }
            details.panel {
                summary { "Create user" }
                form method="post" action="/console/identity/user" {
                    (csrf(p))
                    label for="uname" { "User name" }
                    input #uname type="text" name="user" required maxlength="64";
                    button type="submit" { "Create user" }
                }
            }
        }
        section aria-labelledby="roles-h" {
            h2 #roles-h { "Roles" }
            @match &roles {
                Err(e) => (error(e)),
                Ok(x) => div.scroll { table {
                    thead { tr { th scope="col" { "Role" } th scope="col" { "ARN" } th scope="col" { "Created" } } }
                    tbody {
                        @for m in xml_members(x).iter().filter(|m| m.contains("<RoleName>")) {
                            tr { td { (first(m, "RoleName")) } td { code { (first(m, "Arn")) } } td { (first(m, "CreateDate")) } }
                        }
                    }
                } }
            }
        }
    };
    let status = match shown {
        Some(Shown::Error(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    Out::html(layout(p, "Identity", "Identity", content)).status(status)
}

pub fn create_user(p: &Page) -> Out {
    match p.ctx.iam("CreateUser", &[("UserName", p.r.form.get("user"))]) {
        Ok(_) => Out::redirect("/console/identity?done=created"),
        Err(e) => page(p, Some(Shown::Error(e))),
    }
}

pub fn create_access_key(p: &Page) -> Out {
    let user = p.r.form.get("user").to_string();
    match p.ctx.iam("CreateAccessKey", &[("UserName", &user)]) {
        Ok(x) => {
            let shown = Shown::NewKey {
                user,
                access_key_id: first(&x, "AccessKeyId"),
                secret: zeroize::Zeroizing::new(first(&x, "SecretAccessKey")),
            };
            page(p, Some(shown))
        }
        Err(e) => page(p, Some(Shown::Error(e))),
    }
}
