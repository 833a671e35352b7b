//! Overview: who you are; requests, errors and throttles per service over the last hour (this
//! process's own metrics, as server-rendered SVG); keys pending deletion; secrets whose rotation
//! is due or did not finish.

use super::super::Out;
use super::{error, layout, q, s, when, Page};
use maud::{html, Markup};
use serde_json::{json, Value};

/// Keys looked at for "pending deletion" (one DescribeKey each).
const MAX_KEYS: usize = 50;

/// A 60-minute bar chart: requests in blue, errors in red.
fn chart(service: &str, minutes: &[[u64; 3]]) -> Markup {
    let max = minutes.iter().map(|c| c[0]).max().unwrap_or(0).max(1);
    let (w, h) = (4u64, 40u64);
    let total: u64 = minutes.iter().map(|c| c[0]).sum();
    let label = format!("{service}: {total} requests in the last hour, per minute");
    html! {
        svg.chart viewBox={ "0 0 " (w * minutes.len() as u64) " " (h) } width="240" height="40" role="img" aria-label=(label) preserveAspectRatio="none" {
            @for (i, c) in minutes.iter().enumerate() {
                @let rh = (c[0] * h).div_ceil(max);
                @let eh = (c[1] * h).div_ceil(max);
                @if rh > 0 { rect.req x=(i as u64 * w) y=(h - rh) width=(w - 1) height=(rh) {} }
                @if eh > 0 { rect.err x=(i as u64 * w) y=(h - eh) width=(w - 1) height=(eh) {} }
            }
        }
    }
}

pub fn page(p: &Page) -> Out {
    let s_ = p.ctx.session;
    let arn = s_.principal.arn(trent_policy::partition_for_region(&s_.region));
    let hour = p.app.metrics.last_hour();
    // Keys pending deletion (of the first MAX_KEYS keys).
    let pending = p.ctx.kms("ListKeys", json!({"Limit": MAX_KEYS})).map(|r| {
        r["Keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| p.ctx.kms("DescribeKey", json!({"KeyId": s(k, "KeyId")})).ok())
            .map(|d| d["KeyMetadata"].clone())
            .filter(|m| s(m, "KeyState") == "PendingDeletion")
            .collect::<Vec<Value>>()
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let secrets = p.ctx.sm("ListSecrets", json!({"MaxResults": 100})).map(|r| {
        let all = r["SecretList"].as_array().cloned().unwrap_or_default();
        let due: Vec<Value> = all
            .iter()
            .filter(|x| {
                x["RotationEnabled"].as_bool() == Some(true)
                    && x.get("NextRotationDate").and_then(Value::as_f64).is_some_and(|t| t <= now)
            })
            .cloned()
            .collect();
        let unfinished: Vec<Value> = all
            .iter()
            .filter(|x| {
                x["SecretVersionsToStages"].as_object().is_some_and(|m| {
                    m.values().any(|st| st.as_array().is_some_and(|a| a.iter().any(|l| l == "AWSPENDING")))
                })
            })
            .cloned()
            .collect();
        (due, unfinished)
    });
    let content = html! {
        p { "Signed in as " code { (arn) } " (account " (s_.principal.account_id) ", access key " code { (s_.access_key_id) } "), region " strong { (s_.region) } "." }
        p.hint { "Every action on these pages is an API call made as you: the same authorization, quotas and audit trail as the AWS CLI (user agent " code { "trent-console" } ")." }
        section aria-labelledby="traffic-h" {
            h2 #traffic-h { "Requests in the last hour (this trentd)" }
            @if hour.is_empty() { p { "No requests yet." } } @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Service" } th scope="col" { "Requests" } th scope="col" { "Errors" } th scope="col" { "Throttled" } th scope="col" { "Per minute (red: errors)" } } }
                    tbody {
                        @for (service, minutes) in &hour {
                            tr {
                                td { (service) }
                                td { (minutes.iter().map(|c| c[0]).sum::<u64>()) }
                                td { (minutes.iter().map(|c| c[1]).sum::<u64>()) }
                                td { (minutes.iter().map(|c| c[2]).sum::<u64>()) }
                                td { (chart(service, minutes)) }
                            }
                        }
                    }
                } }
            }
        }
        section aria-labelledby="pending-h" {
            h2 #pending-h { "Keys pending deletion" }
            @match &pending {
                Ok(keys) if keys.is_empty() => p { "None." },
                Ok(keys) => ul { @for m in keys { li { a href={ "/console/keys/view?id=" (q(s(m, "KeyId"))) } { code { (s(m, "KeyId")) } } " — deleted on " (when(m.get("DeletionDate"))) } } },
                Err(e) => (error(e)),
            }
        }
        section aria-labelledby="rot-h" {
            h2 #rot-h { "Secret rotations" }
            @match &secrets {
                Ok((due, unfinished)) => {
                    @if due.is_empty() && unfinished.is_empty() { p { "No rotation is due, and none is unfinished." } }
                    @if !due.is_empty() { p { "Due:" } ul { @for x in due { li { a href={ "/console/secrets/view?id=" (q(s(x, "ARN"))) } { (s(x, "Name")) } " — due " (when(x.get("NextRotationDate"))) } } } }
                    @if !unfinished.is_empty() { p { "Unfinished (an AWSPENDING version: failed or in progress):" } ul { @for x in unfinished { li { a href={ "/console/secrets/view?id=" (q(s(x, "ARN"))) } { (s(x, "Name")) } } } } }
                }
                Err(e) => (error(e)),
            }
        }
    };
    Out::html(layout(p, "Overview", "Overview", content))
}
