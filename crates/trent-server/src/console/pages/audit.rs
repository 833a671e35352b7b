//! Audit events: CloudTrail LookupEvents with filters (event name, user, resource, time
//! range), each event's full JSON.

use super::super::api::ApiError;
use super::super::Out;
use super::{error, layout, pretty, q, s, when, Page};
use axum::http::StatusCode;
use maud::html;
use serde_json::{json, Value};

/// `YYYY-MM-DDTHH:MM[:SS]` (a `datetime-local` field), read as UTC, to epoch seconds.
fn parse_time(v: &str) -> Option<i64> {
    let v = v.trim();
    let long = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let short = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let t = time::PrimitiveDateTime::parse(v, long).or_else(|_| time::PrimitiveDateTime::parse(v, short)).ok()?;
    Some(t.assume_utc().unix_timestamp())
}

pub fn page(p: &Page) -> Out {
    let qy = &p.r.query;
    let filters = [("EventName", "event_name"), ("Username", "user"), ("ResourceName", "resource")];
    let chosen: Vec<(&str, &str)> =
        filters.iter().filter_map(|(attr, field)| qy.opt(field).map(|v| (*attr, v.trim()))).collect();
    let mut body = json!({"MaxResults": 50});
    // LookupEvents takes one attribute; the others filter the page it returns.
    if let Some((attr, value)) = chosen.first() {
        body["LookupAttributes"] = json!([{"AttributeKey": attr, "AttributeValue": value}]);
    }
    let mut bad = None;
    for (field, member) in [("start", "StartTime"), ("end", "EndTime")] {
        if let Some(v) = qy.opt(field) {
            match parse_time(v) {
                Some(t) => body[member] = json!(t),
                None => bad = Some(ApiError::new("ValidationException", "Times are YYYY-MM-DDTHH:MM (UTC).")),
            }
        }
    }
    if let Some(t) = qy.opt("next") {
        body["NextToken"] = json!(t);
    }
    let result = match bad {
        Some(e) => Err(e),
        None => p.ctx.cloudtrail(body),
    };
    let matches = |e: &Value| {
        chosen.iter().skip(1).all(|(attr, value)| match *attr {
            "Username" => s(e, "Username") == *value,
            "EventName" => s(e, "EventName") == *value,
            _ => e["Resources"].as_array().is_some_and(|rs| rs.iter().any(|r| s(r, "ResourceName").contains(*value))),
        })
    };
    let content = html! {
        form.filter method="get" action="/console/audit" role="search" {
            label for="event_name" { "Event name" }
            input #event_name type="text" name="event_name" value=(qy.get("event_name")) placeholder="GetSecretValue";
            label for="user" { "User" }
            input #user type="text" name="user" value=(qy.get("user"));
            label for="resource" { "Resource" }
            input #resource type="text" name="resource" value=(qy.get("resource"));
            label for="start" { "From (UTC)" }
            input #start type="datetime-local" name="start" value=(qy.get("start"));
            label for="end" { "To (UTC)" }
            input #end type="datetime-local" name="end" value=(qy.get("end"));
            button type="submit" { "Search" }
        }
        @match &result {
            Err(e) => (error(e)),
            Ok(r) => {
                @let events: Vec<&Value> = r["Events"].as_array().map(|a| a.iter().filter(|e| matches(e)).collect()).unwrap_or_default();
                div.scroll { table.events {
                    caption { "Newest first" }
                    thead { tr { th scope="col" { "Time" } th scope="col" { "Event" } th scope="col" { "User" } th scope="col" { "Source" } th scope="col" { "Resources" } th scope="col" { "Outcome" } } }
                    tbody {
                        @for e in &events {
                            @let full: Value = serde_json::from_str(s(e, "CloudTrailEvent")).unwrap_or(Value::Null);
                            tr {
                                td { (when(e.get("EventTime"))) }
                                td { (s(e, "EventName")) }
                                td { (s(e, "Username")) }
                                td { (s(e, "EventSource")) }
                                td { @for r in e["Resources"].as_array().map(Vec::as_slice).unwrap_or_default() { code { (s(r, "ResourceName")) } " " } }
                                td { (if s(&full, "errorCode").is_empty() { "OK" } else { s(&full, "errorCode") }) }
                            }
                            tr.detail {
                                td colspan="6" {
                                    details { summary { "Event JSON" } pre.code { (pretty(&full)) } }
                                }
                            }
                        }
                        @if events.is_empty() { tr { td colspan="6" { "No events." } } }
                    }
                } }
                @if let Some(t) = r.get("NextToken").and_then(Value::as_str) {
                    p { a href={ "/console/audit?event_name=" (q(qy.get("event_name"))) "&user=" (q(qy.get("user"))) "&resource=" (q(qy.get("resource"))) "&start=" (q(qy.get("start"))) "&end=" (q(qy.get("end"))) "&next=" (q(t)) } { "Older events" } }
                }
            }
        }
    };
    let status = if result.is_err() { StatusCode::FORBIDDEN } else { StatusCode::OK };
    Out::html(layout(p, "Audit events", "Audit events", content)).status(status)
}

#[cfg(test)]
mod tests {
    #[test]
    fn datetime_local_values_read_as_utc() {
        assert_eq!(super::parse_time("1970-01-01T00:01"), Some(60));
        assert_eq!(super::parse_time("2026-01-02T03:04:05"), Some(1_767_323_045));
        assert_eq!(super::parse_time("yesterday"), None);
    }
}
