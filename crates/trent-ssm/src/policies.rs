//! Parameter policies (Advanced tier): Expiration deletes the parameter at its timestamp;
//! ExpirationNotification and NoChangeNotification emit "Parameter Store Policy Action" events.
//! [`Ssm::sweep_policies`] applies them; the server runs it on its scheduler.

use crate::error::SsmError;
use crate::model::{ParamRecord, VersionRecord};
use crate::params::{encode, param_key, T_PARAM};
use crate::{events, Ssm};
use serde_json::Value;
use trent_kms::Caller;
use trent_policy::Principal;

pub(crate) const T_POLICY: &str = "ssm_policy";
const HOUR_MS: i64 = 3_600_000;

/// The schedule a version's policies describe.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub expiration_ms: Option<i64>,
    pub notify_before_ms: Option<i64>,
    pub no_change_after_ms: Option<i64>,
}

fn attr<'a>(p: &'a Value, kind: &str, name: &str) -> Result<&'a str, SsmError> {
    p.get("Attributes")
        .and_then(|a| a.get(name))
        .and_then(|v| v.as_str())
        .ok_or_else(|| SsmError::InvalidPolicyAttribute(format!("The {kind} policy needs the attribute {name}.")))
}

fn duration(p: &Value, kind: &str, name: &str) -> Result<i64, SsmError> {
    let bad =
        || SsmError::InvalidPolicyAttribute(format!("The {kind} policy's {name} must be a positive whole number."));
    let n: i64 = attr(p, kind, name)?.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    let unit = match attr(p, kind, "Unit")? {
        "Days" => 24 * HOUR_MS,
        "Hours" => HOUR_MS,
        other => {
            return Err(SsmError::InvalidPolicyAttribute(format!(
                "The {kind} policy's Unit must be Days or Hours, not {other}."
            )))
        }
    };
    // A count of days or hours so large it overflows milliseconds is refused, not multiplied.
    n.checked_mul(unit)
        .ok_or_else(|| SsmError::InvalidPolicyAttribute(format!("The {kind} policy's {name} of {n} is too large.")))
}

/// Parses the policy texts PutParameter accepted into a schedule, checking the attributes.
pub(crate) fn schedule(texts: &[String]) -> Result<Schedule, SsmError> {
    let mut s = Schedule::default();
    for t in texts {
        let p: Value = serde_json::from_str(t).map_err(SsmError::internal)?;
        match p.get("Type").and_then(|v| v.as_str()).unwrap_or_default() {
            "Expiration" => {
                let ts = attr(&p, "Expiration", "Timestamp")?;
                let at = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).map_err(|_| {
                    SsmError::InvalidPolicyAttribute(format!(
                        "The Expiration policy's Timestamp {ts} is not an ISO 8601 date and time (e.g. 2030-01-01T00:00:00.000Z)."
                    ))
                })?;
                s.expiration_ms = Some((at.unix_timestamp_nanos() / 1_000_000) as i64);
            }
            "ExpirationNotification" => s.notify_before_ms = Some(duration(&p, "ExpirationNotification", "Before")?),
            "NoChangeNotification" => s.no_change_after_ms = Some(duration(&p, "NoChangeNotification", "After")?),
            _ => {}
        }
    }
    if s.notify_before_ms.is_some() && s.expiration_ms.is_none() {
        return Err(SsmError::InvalidPolicyAttribute(
            "An ExpirationNotification policy needs an Expiration policy on the same parameter.".into(),
        ));
    }
    Ok(s)
}

enum Due {
    Expire,
    Notify(&'static str, String),
}

fn due(p: &ParamRecord, v: &VersionRecord, s: &Schedule, now: i64) -> Vec<Due> {
    let mut out = Vec::new();
    let mark = |kind: &str| format!("{kind}:{}", v.version);
    if let Some(exp) = s.expiration_ms {
        if now >= exp {
            out.push(Due::Expire);
            return out;
        }
        if let Some(before) = s.notify_before_ms {
            if now >= exp.saturating_sub(before) && !p.notified.contains(&mark("ExpirationNotification")) {
                out.push(Due::Notify("ExpirationNotification", mark("ExpirationNotification")));
            }
        }
    }
    if let Some(after) = s.no_change_after_ms {
        if now >= v.modified_ms.saturating_add(after) && !p.notified.contains(&mark("NoChangeNotification")) {
            out.push(Due::Notify("NoChangeNotification", mark("NoChangeNotification")));
        }
    }
    out
}

impl Ssm {
    /// Applies every due parameter policy. Returns how many actions were taken.
    pub fn sweep_policies(&self) -> Result<usize, SsmError> {
        let now = self.clock.now_ms();
        let entries: Vec<String> =
            self.store.read()?.scan(T_POLICY, "", None, 100_000)?.into_iter().map(|(k, _)| k).collect();
        let mut actions = 0;
        for entry in entries {
            let mut parts = entry.splitn(3, '/');
            let (Some(account), Some(region), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let caller = Caller::new(Principal::root(account), region.to_string());
            let mut tx = self.store.write()?;
            let Some(mut p) = self.load_param(&mut *tx, &caller, name)? else {
                tx.delete(T_POLICY, &entry)?;
                tx.commit()?;
                continue;
            };
            let Some(v) = self.load_version(&mut *tx, &caller, name, p.version)? else { continue };
            let s = schedule(&v.policies).unwrap_or_default();
            let mut emitted = Vec::new();
            for d in due(&p, &v, &s, now) {
                match d {
                    Due::Expire => {
                        crate::ops::delete_parameter::delete(self, &mut *tx, &caller, name)?;
                        emitted.push(events::policy_action(
                            &caller,
                            now,
                            name,
                            &v.kind,
                            "Expiration",
                            "The parameter was deleted by its Expiration policy.",
                        ));
                    }
                    Due::Notify(kind, mark) => {
                        p.notified.push(mark);
                        let reason = if kind == "ExpirationNotification" {
                            "The parameter will expire as its Expiration policy says."
                        } else {
                            "The parameter has not changed for the time its NoChangeNotification policy gives."
                        };
                        emitted.push(events::policy_action(&caller, now, name, &v.kind, kind, reason));
                        tx.put(T_PARAM, &param_key(&caller, name), &encode(&p)?)?;
                    }
                }
            }
            tx.commit()?;
            actions += emitted.len();
            for e in emitted {
                self.events.emit(e);
            }
        }
        Ok(actions)
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    fn policy(kind: &str, attr: &str, n: &str, unit: &str) -> String {
        serde_json::json!({"Type": kind, "Version": "1.0", "Attributes": {attr: n, "Unit": unit}}).to_string()
    }

    #[test]
    fn a_duration_whose_milliseconds_overflow_is_an_invalid_policy_attribute() {
        let exp = r#"{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2099-01-01T00:00:00Z"}}"#;
        for (kind, attr) in [("NoChangeNotification", "After"), ("ExpirationNotification", "Before")] {
            let texts = vec![exp.to_string(), policy(kind, attr, &i64::MAX.to_string(), "Days")];
            assert!(matches!(schedule(&texts), Err(SsmError::InvalidPolicyAttribute(_))), "{kind}");
            let fits = (i64::MAX / HOUR_MS).to_string();
            assert!(schedule(&[exp.to_string(), policy(kind, attr, &fits, "Hours")]).is_ok(), "{kind}");
        }
    }
}
