//! Secret rotation: schedules (`RotationRules`), the four-step contract a rotation function
//! follows (createSecret → setSecret → testSecret → finishSecret), and the engine that runs it.
//!
//! The engine does what the AWS service does around a Lambda rotation function: it invokes the
//! four steps in order with `{"SecretId", "ClientRequestToken", "Step"}`, checks after
//! createSecret that the new version exists with AWSPENDING and after finishSecret that
//! AWSCURRENT moved to it, then takes AWSPENDING off, records LastRotatedDate and schedules the
//! next rotation. A failing step is recorded on the secret (DescribeSecret shows it) and
//! leaves AWSCURRENT where it was; AWSPENDING stays on the new version, so the next attempt
//! (RotateSecret with that version's id as ClientRequestToken, or the scheduler) resumes it.
//!
//! The functions themselves come from a [`Rotator`], which `trentd` implements (built-in
//! database rotators, executables, webhooks). [`create_pending`] and [`finish`] are the
//! createSecret and finishSecret steps every built-in rotator shares.
//!
//! Schedules: `AutomaticallyAfterDays` N and `rate(N days)` rotate at 00:00 UTC N days after
//! the day of the last rotation; `rate(N hours)` N hours after it; `cron(...)` at the next time
//! the expression matches (AWS's six fields: minutes hours day-of-month month day-of-week year,
//! `?` in one of the day fields, day-of-week 1–7 = SUN–SAT). Rotation runs at the start of the
//! window; `Duration` is validated and shown, not waited on. A rotation whose time passed while
//! the server was down runs at the next sweep. A failed scheduled rotation is retried an hour later.

use crate::model::{RotationFailure, RotationRules, SecretRecord, AWSCURRENT, AWSPENDING};
use crate::secrets::{move_stage, new_version_id, secret_key};
use crate::{SecretsManager, SmError};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Mutex;
use trent_kms::Caller;
use trent_policy::Principal;
use trent_store::Txn;
use zeroize::{Zeroize, Zeroizing};

pub(crate) const T_ROTATION: &str = "sm_rotation";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// A failed scheduled rotation is tried again this much later.
pub const RETRY_MS: i64 = HOUR_MS;
/// Characters AWS's rotation functions keep out of generated passwords (they break connection
/// strings and SQL quoting).
pub const EXCLUDE_CHARACTERS: &str = ":/@\"'\\";

/// One step of the rotation contract, named on the wire as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    CreateSecret,
    #[serde(rename = "setSecret")]
    SetSecret,
    #[serde(rename = "testSecret")]
    TestSecret,
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::CreateSecret, Step::SetSecret, Step::TestSecret, Step::FinishSecret];

    pub fn name(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

/// What a rotation function receives, exactly as a Lambda rotation function does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    /// The secret's ARN.
    pub secret_id: String,
    /// The id of the version the rotation creates.
    pub client_request_token: String,
    pub step: Step,
}

/// The rotation functions. `function` is the function name from the secret's
/// RotationLambdaARN (a Lambda ARN's `function:<name>` part, or the bare name), or `None` when
/// the secret names none (the server picks a built-in rotator from the secret's `engine`).
pub trait Rotator: Send + Sync {
    /// Whether this server can run `function`; the error says why not.
    fn check(&self, function: Option<&str>) -> Result<(), String>;

    /// Runs one step. Errors are messages for DescribeSecret and the caller: never secret values.
    fn invoke(
        &self,
        sm: &SecretsManager,
        caller: &Caller,
        function: Option<&str>,
        event: &RotationEvent,
    ) -> Result<(), String>;
}

/// The rotator `SecretsManager::new` starts with: every function name is refused, and a
/// secret without one gets a new random password (the generic rotator).
pub struct GenericOnly;

impl Rotator for GenericOnly {
    fn check(&self, function: Option<&str>) -> Result<(), String> {
        match function {
            None => Ok(()),
            Some(f) => Err(format!("The rotation function {f} is not registered with this server.")),
        }
    }

    fn invoke(
        &self,
        sm: &SecretsManager,
        caller: &Caller,
        _: Option<&str>,
        event: &RotationEvent,
    ) -> Result<(), String> {
        generic_step(sm, caller, event)
    }
}

/// The generic rotator: createSecret makes a new random password, setSecret and testSecret
/// have nothing to do, finishSecret promotes the new version.
pub fn generic_step(sm: &SecretsManager, caller: &Caller, event: &RotationEvent) -> Result<(), String> {
    match event.step {
        Step::CreateSecret => create_pending(sm, caller, event, false),
        Step::SetSecret | Step::TestSecret => Ok(()),
        Step::FinishSecret => finish(sm, caller, event),
    }
}

/// The function name in a RotationLambdaARN: `arn:…:lambda:…:function:NAME[:qualifier]` → NAME;
/// anything else is taken as the name itself.
pub fn function_name(lambda_arn: &str) -> Option<&str> {
    let name = match lambda_arn.split_once(":function:") {
        Some((prefix, rest)) if prefix.starts_with("arn:") => rest.split(':').next().unwrap_or_default(),
        _ => lambda_arn,
    };
    (!name.is_empty()).then_some(name)
}

/// A JSON secret value whose strings are zeroized when it is dropped.
pub struct SecretJson(pub serde_json::Value);

impl SecretJson {
    pub fn parse(text: &str) -> Option<SecretJson> {
        serde_json::from_str::<serde_json::Value>(text).ok().filter(|v| v.is_object()).map(SecretJson)
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(|v| v.as_str())
    }

    /// A field as a string; numbers too (`"port": 5432`).
    pub fn text(&self, field: &str) -> Option<String> {
        match self.0.get(field)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn set(&mut self, field: &str, value: String) {
        if let Some(o) = self.0.as_object_mut() {
            if let Some(serde_json::Value::String(old)) = o.get_mut(field) {
                old.zeroize();
            }
            o.insert(field.to_string(), serde_json::Value::String(value));
        }
    }

    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string())
    }
}

fn wipe(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
        serde_json::Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

impl Drop for SecretJson {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// A random password by GetRandomPassword's rules (32 characters, every kind, no space),
/// without `exclude`.
pub fn generate_password(exclude: &str) -> Result<Zeroizing<String>, SmError> {
    let req = crate::ops::get_random_password::Request {
        exclude_characters: Some(exclude.to_string()),
        ..Default::default()
    };
    crate::ops::get_random_password::generate(req)
}

/// createSecret as AWS's rotation functions do it: if the version `token` already carries
/// AWSPENDING, nothing to do; otherwise copy AWSCURRENT with a new random password (and, with
/// `alternate_user`, the other of `username` / `username_clone`) into a new version `token`
/// labelled AWSPENDING. A secret that is not a JSON object becomes a random password itself.
pub fn create_pending(
    sm: &SecretsManager,
    caller: &Caller,
    ev: &RotationEvent,
    alternate_user: bool,
) -> Result<(), String> {
    let current = sm
        .rotation_value(caller, &ev.secret_id, None, Some(AWSCURRENT))
        .map_err(step_error)?
        .ok_or("the secret has no AWSCURRENT version to rotate")?;
    if sm
        .rotation_value(caller, &ev.secret_id, Some(&ev.client_request_token), Some(AWSPENDING))
        .map_err(step_error)?
        .is_some()
    {
        return Ok(());
    }
    let password = generate_password(EXCLUDE_CHARACTERS).map_err(step_error)?;
    let pending = match SecretJson::parse(&current) {
        Some(mut json) => {
            if alternate_user {
                let user = json.str("username").ok_or("the secret has no username field")?.to_string();
                let other = match user.strip_suffix("_clone") {
                    Some(base) => base.to_string(),
                    None => format!("{user}_clone"),
                };
                json.set("username", other);
            }
            json.set("password", password.to_string());
            json.to_text()
        }
        None if alternate_user => return Err("the secret is not a JSON object with a username".into()),
        None => password,
    };
    sm.rotation_put_pending(caller, &ev.secret_id, &ev.client_request_token, &pending).map_err(step_error)
}

/// An error of an in-process call as a step's failure message (internal details only logged).
pub fn step_error(e: SmError) -> String {
    use trent_wire::AwsError;
    if let Some(d) = e.internal_detail() {
        tracing::error!(detail = %d, "rotation step: internal error");
    }
    format!("{}: {}", e.code(), e.message())
}

/// finishSecret as AWS's rotation functions do it: move AWSCURRENT to the version `token`.
pub fn finish(sm: &SecretsManager, caller: &Caller, ev: &RotationEvent) -> Result<(), String> {
    sm.rotation_promote(caller, &ev.secret_id, &ev.client_request_token).map_err(step_error)
}

/// A parsed schedule.
pub enum Schedule {
    Days(i64),
    Hours(i64),
    Cron(Box<croner::Cron>),
}

fn invalid(msg: impl Into<String>) -> SmError {
    SmError::InvalidParameter(msg.into())
}

/// Checks RotationRules as AWS does and returns the schedule (None: no schedule given).
pub fn parse_rules(rules: &RotationRules) -> Result<Option<Schedule>, SmError> {
    let schedule = match (rules.automatically_after_days, rules.schedule_expression.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.",
            ))
        }
        (Some(d), None) => {
            if !(1..=1000).contains(&d) {
                return Err(invalid("AutomaticallyAfterDays must be between 1 and 1000."));
            }
            Some(Schedule::Days(d))
        }
        (None, Some(expr)) => Some(parse_expression(expr)?),
        (None, None) => None,
    };
    if let Some(d) = rules.duration.as_deref() {
        let hours = d
            .strip_suffix('h')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|h| (1..=24).contains(h))
            .ok_or_else(|| invalid(format!("The Duration {d} is not valid: give 1h to 24h.")))?;
        if let Some(Schedule::Hours(n)) = &schedule {
            if hours > *n {
                return Err(invalid("The rotation window (Duration) can't extend into the next rotation window."));
            }
        }
        if schedule.is_none() {
            return Err(invalid("A Duration needs a ScheduleExpression or AutomaticallyAfterDays."));
        }
    }
    Ok(schedule)
}

/// `rate(N days)`, `rate(N hours)` (N ≥ 4; `day`/`hour` for 1) or `cron(six fields)`.
pub fn parse_expression(expr: &str) -> Result<Schedule, SmError> {
    let bad = || invalid(format!("The schedule expression {expr} is not valid."));
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let n: i64 = n.parse().map_err(|_| bad())?;
        return match unit {
            "day" | "days" if (1..=1000).contains(&n) && (unit == "days") == (n != 1) => Ok(Schedule::Days(n)),
            "hour" | "hours" if (1..=23).contains(&n) && (unit == "hours") == (n != 1) => {
                if n < 4 {
                    return Err(invalid("The schedule expression must rotate at most every four hours."));
                }
                Ok(Schedule::Hours(n))
            }
            _ => Err(bad()),
        };
    }
    let inner = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')).ok_or_else(bad)?;
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(invalid(format!(
            "The schedule expression {expr} is not valid: cron() takes six fields (minutes hours day-of-month month day-of-week year)."
        )));
    }
    if (fields[2] == "?") == (fields[4] == "?") {
        return Err(invalid(format!(
            "The schedule expression {expr} is not valid: use ? in exactly one of day-of-month and day-of-week."
        )));
    }
    // AWS's fields with a seconds field in front; Quartz weekdays (1–7 = SUN–SAT) as AWS has them.
    let pattern = format!("0 {}", fields.join(" "));
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .year(croner::parser::Year::Required)
        .alternative_weekdays(true)
        .build();
    let cron =
        parser.parse(&pattern).map_err(|e| invalid(format!("The schedule expression {expr} is not valid: {e}.")))?;
    let schedule = Schedule::Cron(Box::new(cron));
    // At most every four hours, as AWS allows: look at the first few occurrences.
    let mut t = schedule.next_after(0).ok_or_else(bad)?;
    for _ in 0..50 {
        let Some(n) = schedule.next_after(t) else { break };
        if n - t < 4 * HOUR_MS {
            return Err(invalid("The schedule expression must rotate at most every four hours."));
        }
        t = n;
    }
    Ok(schedule)
}

impl Schedule {
    /// The first rotation time after a rotation (or configuration) at `last_ms`.
    pub fn next_after(&self, last_ms: i64) -> Option<i64> {
        match self {
            Schedule::Days(n) => Some(last_ms - last_ms.rem_euclid(DAY_MS) + n * DAY_MS),
            Schedule::Hours(n) => Some(last_ms + n * HOUR_MS),
            Schedule::Cron(c) => {
                use chrono::TimeZone;
                let start = chrono::Utc.timestamp_millis_opt(last_ms).single()?;
                c.find_next_occurrence(&start, false).ok().map(|t| t.timestamp_millis())
            }
        }
    }
}

pub(crate) fn rotation_key(ms: i64, caller: &Caller, name: &str) -> String {
    format!("{:020}/{}", ms.max(0), secret_key(caller, name))
}

/// Moves a secret's `sm_rotation` entry to `next` (None: takes it out).
pub(crate) fn reindex(
    tx: &mut dyn Txn,
    caller: &Caller,
    rec: &mut SecretRecord,
    next: Option<i64>,
) -> Result<(), SmError> {
    if let Some(old) = rec.rotation.next_ms {
        tx.delete(T_ROTATION, &rotation_key(old, caller, &rec.name))?;
    }
    if let Some(at) = next {
        tx.put(T_ROTATION, &rotation_key(at, caller, &rec.name), b"")?;
    }
    rec.rotation.next_ms = next;
    Ok(())
}

/// The schedule of a record's rules (already validated when stored).
pub(crate) fn schedule_of(rec: &SecretRecord) -> Option<Schedule> {
    rec.rotation.rules.as_ref().and_then(|r| parse_rules(r).ok().flatten())
}

/// Secrets whose rotation is running in this process (one rotation per secret at a time).
#[derive(Default)]
pub(crate) struct InProgress(Mutex<HashSet<String>>);

struct Claim<'a>(&'a InProgress, String);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0 .0.lock() {
            s.remove(&self.1);
        }
    }
}

impl InProgress {
    fn claim(&self, key: String) -> Option<Claim<'_>> {
        let mut s = self.0.lock().ok()?;
        s.insert(key.clone()).then(|| Claim(self, key))
    }
}

/// How a rotation attempt ended badly.
pub enum RotationError {
    /// Another rotation of the same secret is running.
    Busy,
    /// A step failed (recorded on the secret).
    Failed(RotationFailure),
    Sm(SmError),
}

impl From<trent_store::StoreError> for RotationError {
    fn from(e: trent_store::StoreError) -> Self {
        RotationError::Sm(e.into())
    }
}

impl From<SmError> for RotationError {
    fn from(e: SmError) -> Self {
        RotationError::Sm(e)
    }
}

impl SecretsManager {
    /// Replaces the rotation functions (trentd passes its built-in, executable and webhook rotators).
    pub fn with_rotator(mut self, rotator: std::sync::Arc<dyn Rotator>) -> Self {
        self.rotator = rotator;
        self
    }

    pub(crate) fn rotator(&self) -> &dyn Rotator {
        &*self.rotator
    }

    /// For rotators: a version's string value (by id and/or stage; AWSCURRENT by default), or
    /// `None` if there is no such version.
    pub fn rotation_value(
        &self,
        caller: &Caller,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, SmError> {
        let rec = {
            let mut tx = self.store.read()?;
            self.find(&mut *tx, caller, secret_id)?
        };
        match crate::ops::get_secret_value::read_value(self, caller, &rec, version_id, stage) {
            Ok(v) => Ok(v.secret_string),
            Err(SmError::ResourceNotFound(_)) | Err(SmError::InvalidRequest(_)) if rec.deleted_ms.is_none() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// For rotators: PutSecretValue(ClientRequestToken = token, VersionStages = [AWSPENDING]).
    pub fn rotation_put_pending(
        &self,
        caller: &Caller,
        secret_id: &str,
        token: &str,
        value: &str,
    ) -> Result<(), SmError> {
        let plain = trent_crypto::SecretBytes::new(value.as_bytes().to_vec());
        crate::ops::put_secret_value::new_version(
            self,
            caller,
            secret_id,
            Some(token.to_string()),
            (false, plain),
            vec![AWSPENDING.to_string()],
        )?;
        Ok(())
    }

    /// For rotators: UpdateSecretVersionStage(AWSCURRENT → token), as finishSecret does it.
    pub fn rotation_promote(&self, caller: &Caller, secret_id: &str, token: &str) -> Result<(), SmError> {
        let mut tx = self.store.write()?;
        let mut rec = self.find(&mut *tx, caller, secret_id)?;
        if !rec.versions.contains_key(token) {
            return Err(SmError::ResourceNotFound(format!("The version {token} does not exist in this secret.")));
        }
        if rec.version_with_stage(AWSCURRENT) == Some(token) {
            return Ok(());
        }
        move_stage(&mut rec, AWSCURRENT, token);
        rec.changed_ms = self.clock.now_ms();
        let replicated = self.sync_in_tx(&mut *tx, caller, &mut rec)?;
        self.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        if !replicated {
            self.sync_replicas(caller, &rec.name);
        }
        Ok(())
    }

    /// Runs the four steps for version `token` of secret `name`. Success: AWSCURRENT is on
    /// `token`, AWSPENDING is gone, LastRotatedDate is now and the next rotation is scheduled.
    /// Failure: recorded on the secret, AWSCURRENT untouched.
    pub(crate) fn run_rotation(&self, caller: &Caller, name: &str, token: &str) -> Result<(), RotationError> {
        let _claim = self.in_progress.claim(secret_key(caller, name)).ok_or(RotationError::Busy)?;
        let rec = self.load(&mut *self.store.read()?, caller, name)?.ok_or_else(SmError::not_found)?;
        let function = rec.rotation.lambda_arn.as_deref().and_then(function_name).map(str::to_string);
        let fail = |step: Step, message: String| -> RotationError {
            match self.record_failure(caller, name, step, token, message) {
                Ok(f) => RotationError::Failed(f),
                Err(e) => RotationError::Sm(e),
            }
        };
        for step in Step::ALL {
            let event = RotationEvent { secret_id: rec.arn.clone(), client_request_token: token.to_string(), step };
            if let Err(m) = self.rotator().invoke(self, caller, function.as_deref(), &event) {
                return Err(fail(step, m));
            }
            if step == Step::CreateSecret {
                let now = self.load(&mut *self.store.read()?, caller, name)?.ok_or_else(SmError::not_found)?;
                let ok = now
                    .versions
                    .get(token)
                    .is_some_and(|m| m.stages.iter().any(|s| s == AWSPENDING || s == AWSCURRENT));
                if !ok {
                    return Err(fail(
                        step,
                        format!("createSecret did not create version {token} labelled AWSPENDING."),
                    ));
                }
            }
        }
        let mut tx = self.store.write()?;
        let mut rec = self.load(&mut *tx, caller, name)?.ok_or_else(SmError::not_found)?;
        if rec.version_with_stage(AWSCURRENT) != Some(token) {
            drop(tx);
            return Err(fail(Step::FinishSecret, format!("finishSecret did not move AWSCURRENT to version {token}.")));
        }
        if let Some(m) = rec.versions.get_mut(token) {
            m.stages.retain(|s| s != AWSPENDING);
        }
        let now = self.clock.now_ms();
        rec.rotation.last_rotated_ms = Some(now);
        rec.rotation.last_failure = None;
        rec.changed_ms = now;
        let next = if rec.rotation.enabled { schedule_of(&rec).and_then(|s| s.next_after(now)) } else { None };
        reindex(&mut *tx, caller, &mut rec, next)?;
        let replicated = self.sync_in_tx(&mut *tx, caller, &mut rec)?;
        self.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        tracing::info!(secret = %rec.arn, version = %token, "secret rotated");
        if !replicated {
            self.sync_replicas(caller, name);
        }
        Ok(())
    }

    /// RotateSecret with `RotateImmediately: false`: AWS tests the rotation configuration by
    /// running the function's testSecret step — the test creates an AWSPENDING version and then
    /// removes it. Here the AWSPENDING version is a copy of AWSCURRENT (so a database rotator
    /// logs in with the current credentials); it is removed whatever testSecret answers.
    /// `Err` is testSecret's message.
    pub(crate) fn test_rotation(&self, caller: &Caller, name: &str) -> Result<(), RotationError> {
        let _claim = self.in_progress.claim(secret_key(caller, name)).ok_or(RotationError::Busy)?;
        let rec = self.load(&mut *self.store.read()?, caller, name)?.ok_or_else(SmError::not_found)?;
        let function = rec.rotation.lambda_arn.as_deref().and_then(function_name).map(str::to_string);
        let current = crate::ops::get_secret_value::read_value(self, caller, &rec, None, Some(AWSCURRENT))?;
        let (binary, plain) = match (current.secret_string, current.secret_binary) {
            (Some(s), _) => (false, trent_crypto::SecretBytes::new(s.as_bytes().to_vec())),
            (None, Some(b)) => (true, trent_crypto::SecretBytes::new(b.to_vec())),
            (None, None) => {
                return Err(SmError::InvalidRequest("The secret has no AWSCURRENT value to test.".into()).into())
            }
        };
        let token = new_version_id();
        let key_arn = self.key_arn(caller, rec.kms_key_id.as_deref())?;
        let enc = self.encrypt(caller, &key_arn, &rec.arn, &token, binary, &plain)?;
        {
            let mut tx = self.store.write()?;
            let mut rec = self.load(&mut *tx, caller, name)?.ok_or_else(SmError::not_found)?;
            self.add_version(&mut *tx, caller, &mut rec, &token, enc, &plain, &key_arn, &[AWSPENDING.to_string()])?;
            self.save(&mut *tx, caller, &rec)?;
            tx.commit()?;
        }
        let event =
            RotationEvent { secret_id: rec.arn.clone(), client_request_token: token.clone(), step: Step::TestSecret };
        let outcome = self.rotator().invoke(self, caller, function.as_deref(), &event);
        {
            let mut tx = self.store.write()?;
            if let Some(mut rec) = self.load(&mut *tx, caller, name)? {
                rec.versions.remove(&token);
                rec.order.retain(|v| *v != token);
                tx.delete(crate::secrets::T_VALUE, &crate::secrets::value_key(caller, name, &token))?;
                // A sync that ran meanwhile may have copied the temporary version: take it off too.
                let replicated = self.sync_in_tx(&mut *tx, caller, &mut rec)?;
                self.save(&mut *tx, caller, &rec)?;
                tx.commit()?;
                if !replicated {
                    self.sync_replicas(caller, name);
                }
            }
        }
        outcome.map_err(|m| {
            let now = self.clock.now_ms();
            RotationError::Failed(RotationFailure {
                step: Step::TestSecret.name().into(),
                message: m,
                version_id: token,
                date_ms: now,
            })
        })
    }

    fn record_failure(
        &self,
        caller: &Caller,
        name: &str,
        step: Step,
        token: &str,
        message: String,
    ) -> Result<RotationFailure, SmError> {
        let now = self.clock.now_ms();
        let failure =
            RotationFailure { step: step.name().into(), message, version_id: token.to_string(), date_ms: now };
        tracing::warn!(secret = %name, step = step.name(), message = %failure.message, "secret rotation failed");
        let mut tx = self.store.write()?;
        if let Some(mut rec) = self.load(&mut *tx, caller, name)? {
            rec.rotation.last_failure = Some(failure.clone());
            if rec.rotation.enabled && schedule_of(&rec).is_some() {
                reindex(&mut *tx, caller, &mut rec, Some(now + RETRY_MS))?;
            }
            self.save(&mut *tx, caller, &rec)?;
            tx.commit()?;
        }
        Ok(failure)
    }

    /// Runs every rotation that is due (also those that fell due while the server was down).
    /// Returns how many succeeded.
    pub fn sweep_rotations(&self) -> Result<usize, SmError> {
        let now = self.clock.now_ms();
        let due: Vec<String> = self
            .store
            .read()?
            .scan(T_ROTATION, "", None, 1000)?
            .into_iter()
            .map(|(k, _)| k)
            .take_while(|k| k.split('/').next().and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| t <= now))
            .collect();
        let mut rotated = 0;
        for entry in due {
            let mut parts = entry.splitn(4, '/');
            let (Some(at), Some(account), Some(region), Some(name)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let at: i64 = at.parse().unwrap_or_default();
            let caller = Caller::new(Principal::root(account), region.to_string());
            let token = {
                let mut tx = self.store.write()?;
                let rec = self.load(&mut *tx, &caller, name)?;
                match rec {
                    Some(mut rec) if rec.rotation.enabled && rec.rotation.next_ms == Some(at) => {
                        if rec.deleted_ms.is_some() {
                            // Not rotated while marked for deletion; looked at again later.
                            reindex(&mut *tx, &caller, &mut rec, Some(now + RETRY_MS))?;
                            self.save(&mut *tx, &caller, &rec)?;
                            tx.commit()?;
                            continue;
                        }
                        rec.pending_rotation().map(str::to_string).unwrap_or_else(new_version_id)
                    }
                    _ => {
                        tx.delete(T_ROTATION, &entry)?;
                        tx.commit()?;
                        continue;
                    }
                }
            };
            match self.run_rotation(&caller, name, &token) {
                Ok(()) => rotated += 1,
                Err(RotationError::Busy) | Err(RotationError::Failed(_)) => {}
                Err(RotationError::Sm(e)) => tracing::error!(secret = %name, error = ?e, "scheduled rotation failed"),
            }
        }
        Ok(rotated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a Thursday

    fn next(expr: &str, from: i64) -> i64 {
        parse_expression(expr).unwrap_or_else(|e| panic!("{expr}: {e:?}")).next_after(from).unwrap()
    }

    #[test]
    fn rate_in_days_rotates_at_midnight_utc_n_days_later() {
        assert_eq!(next("rate(10 days)", T0 + 13 * HOUR_MS), T0 + 10 * DAY_MS);
        assert_eq!(next("rate(1 day)", T0), T0 + DAY_MS);
        assert_eq!(Schedule::Days(30).next_after(T0 + 1).unwrap(), T0 + 30 * DAY_MS);
    }

    #[test]
    fn rate_in_hours_counts_from_the_last_rotation() {
        assert_eq!(next("rate(4 hours)", T0 + 5), T0 + 5 + 4 * HOUR_MS);
    }

    #[test]
    fn rate_expressions_aws_refuses_are_refused() {
        for bad in [
            "rate(2 hours)",
            "rate(0 days)",
            "rate(1001 days)",
            "rate(1 days)",
            "rate(5 minutes)",
            "rate(x days)",
            "rate(5days)",
        ] {
            assert!(parse_expression(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn cron_uses_aws_six_fields_and_quartz_weekdays() {
        // 16:00 UTC on the 1st and 15th.
        assert_eq!(next("cron(0 16 1,15 * ? *)", T0), T0 + 16 * HOUR_MS);
        assert_eq!(next("cron(0 16 1,15 * ? *)", T0 + 17 * HOUR_MS), T0 + 14 * DAY_MS + 16 * HOUR_MS);
        // Day-of-week 2 is Monday in AWS's numbering: the first Monday of 2026 is 5 January.
        assert_eq!(next("cron(0 8 ? * 2 *)", T0), T0 + 4 * DAY_MS + 8 * HOUR_MS);
        assert_eq!(next("cron(0 8 ? * MON *)", T0), T0 + 4 * DAY_MS + 8 * HOUR_MS);
        // The year field limits the schedule.
        assert!(next("cron(0 0 1 1 ? 2030)", T0) > T0 + 4 * 365 * DAY_MS);
    }

    #[test]
    fn cron_needs_six_fields_one_question_mark_and_four_hours_between_runs() {
        for bad in [
            "cron(0 16 1 * *)",
            "cron(0 16 * * * *)",
            "cron(0 16 1 * 2 *)",
            "cron(0 * * * ? *)",
            "cron(0 0/2 * * ? *)",
            "cron(x)",
        ] {
            assert!(parse_expression(bad).is_err(), "{bad} was accepted");
        }
        assert!(parse_expression("cron(0 0/4 * * ? *)").is_ok());
    }

    #[test]
    fn rules_refuse_both_schedules_and_bad_durations() {
        let both = RotationRules {
            automatically_after_days: Some(3),
            schedule_expression: Some("rate(3 days)".into()),
            duration: None,
        };
        assert!(parse_rules(&both).is_err());
        let days = |d: i64| RotationRules { automatically_after_days: Some(d), ..Default::default() };
        assert!(parse_rules(&days(0)).is_err());
        assert!(parse_rules(&days(1001)).is_err());
        assert!(parse_rules(&days(1000)).is_ok());
        let window = |expr: &str, d: &str| RotationRules {
            schedule_expression: Some(expr.into()),
            duration: Some(d.into()),
            ..Default::default()
        };
        assert!(parse_rules(&window("rate(6 hours)", "3h")).is_ok());
        assert!(parse_rules(&window("rate(6 hours)", "7h")).is_err());
        assert!(parse_rules(&window("rate(2 days)", "25h")).is_err());
        assert!(parse_rules(&window("rate(2 days)", "h")).is_err());
    }

    #[test]
    fn function_name_takes_the_lambda_function_part() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:111122223333:function:my-rot"), Some("my-rot"));
        assert_eq!(function_name("arn:aws:lambda:us-east-1:111122223333:function:my-rot:live"), Some("my-rot"));
        assert_eq!(function_name("my-rot"), Some("my-rot"));
        assert_eq!(function_name(""), None);
    }
}
