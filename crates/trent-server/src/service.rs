//! The services trentd serves, and everything the request path asks of each — in one place.
//!
//! Each awsJson service declares its operations once, in the `operations!` table of its crate
//! (`trent-kms`, `trent-ssm`, `trent-secrets`): per row the IAM action, the audit class, the
//! quota and the request members that name resources. [`Service`] adds what is per service
//! (signing name, `X-Amz-Target` prefix, CloudTrail event source, internal-error code), and
//! [`Op`] — one served operation of any service — is what `http.rs` carries through the
//! stages: [`Op::audit`], [`Op::quota`], [`Op::authorize`] (which mints the [`Authorized`]
//! context) and [`Authorized::dispatch`]. No other module matches on service and operation.

use crate::identity::{self, Env};
use crate::App;
use trent_kms::Caller;
use trent_wire::{Audit, AwsError, Quota};

type BoxError = Box<dyn AwsError + Send>;

/// A request body parsed once by the request path (see [`crate::quota::Body`]).
pub use crate::quota::Body;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Kms,
    Ssm,
    Secrets,
    CloudTrail,
    /// awsQuery (`Action=…`), chosen by the SigV4 scope's service.
    Iam,
    Sts,
}

/// CloudTrail's served operations (only LookupEvents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudTrailOp {
    LookupEvents,
}

impl Service {
    /// Every service, awsJson ones first.
    pub const ALL: &'static [Service] =
        &[Service::Kms, Service::Ssm, Service::Secrets, Service::CloudTrail, Service::Iam, Service::Sts];

    /// The `X-Amz-Target` prefix of an awsJson service (`TrentService`); `None` for awsQuery.
    pub fn target_prefix(self) -> Option<&'static str> {
        match self {
            Service::Kms => Some("TrentService"),
            Service::Ssm => Some("AmazonSSM"),
            Service::Secrets => Some("secretsmanager"),
            Service::CloudTrail => Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"),
            Service::Iam | Service::Sts => None,
        }
    }

    /// The awsJson service whose `X-Amz-Target` prefix is `prefix`.
    pub fn from_target_prefix(prefix: &str) -> Option<Service> {
        Service::ALL.iter().copied().find(|s| s.target_prefix() == Some(prefix))
    }

    /// The SigV4 signing name (the credential scope's service), also the quota prefix.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Kms => "kms",
            Service::Ssm => "ssm",
            Service::Secrets => "secretsmanager",
            Service::CloudTrail => "cloudtrail",
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    /// CloudTrail's `eventSource` for the service.
    pub fn event_source(self) -> &'static str {
        match self {
            Service::Kms => "kms.amazonaws.com",
            Service::Ssm => "ssm.amazonaws.com",
            Service::Secrets => "secretsmanager.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
            Service::Iam => "iam.amazonaws.com",
            Service::Sts => "sts.amazonaws.com",
        }
    }

    /// The service's own code for an internal failure (HTTP 500).
    pub fn internal_error_code(self) -> &'static str {
        match self {
            Service::Kms => "KMSInternalException",
            Service::Ssm => "InternalServerError",
            Service::Secrets => "InternalServiceError",
            Service::CloudTrail => "InternalFailure",
            Service::Iam | Service::Sts => "ServiceFailure",
        }
    }

    /// The XML namespace of an awsQuery service's responses; `None` for awsJson services.
    pub fn xmlns(self) -> Option<&'static str> {
        match self {
            Service::Iam => Some(trent_wire::query::IAM_XMLNS),
            Service::Sts => Some(trent_wire::query::STS_XMLNS),
            _ => None,
        }
    }

    /// The served operation `name` names, if any. For IAM and STS every action resolves (an
    /// action trent-iam does not serve is answered by trent-iam itself).
    pub fn operation(self, name: &str) -> Option<Op> {
        match self {
            Service::Kms => trent_kms::Operation::from_name(name).map(Op::Kms),
            Service::Ssm => trent_ssm::Operation::from_name(name).map(Op::Ssm),
            Service::Secrets => trent_secrets::Operation::from_name(name).map(Op::Secrets),
            Service::CloudTrail => (name == "LookupEvents").then_some(Op::CloudTrail(CloudTrailOp::LookupEvents)),
            Service::Iam | Service::Sts => {
                let (svc, table) = if self == Service::Iam {
                    (trent_iam::Service::Iam, trent_iam::IAM_ACTIONS)
                } else {
                    (trent_iam::Service::Sts, trent_iam::STS_ACTIONS)
                };
                let action = table.iter().find(|(n, _)| *n == name).map(|(n, _)| *n);
                Some(Op::Query { service: svc, action, audit: query_audit(name) })
            }
        }
    }
}

/// IAM's and STS's audit class, from the action's name (their action tables in trent-iam do not
/// declare one yet): `Get*`, `List*`, `Describe*`, `BatchGet*` read, the rest write.
fn query_audit(action: &str) -> Audit {
    if ["Get", "List", "Describe", "BatchGet"].iter().any(|p| action.starts_with(p)) {
        Audit::Read
    } else {
        Audit::Write
    }
}

/// One operation of one service, as the request path carries it from framing to dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Kms(trent_kms::Operation),
    Ssm(trent_ssm::Operation),
    Secrets(trent_secrets::Operation),
    CloudTrail(CloudTrailOp),
    /// An IAM or STS action (`action` is `None` when trent-iam does not serve it).
    Query {
        service: trent_iam::Service,
        action: Option<&'static str>,
        audit: Audit,
    },
}

impl Op {
    pub fn service(self) -> Service {
        match self {
            Op::Kms(_) => Service::Kms,
            Op::Ssm(_) => Service::Ssm,
            Op::Secrets(_) => Service::Secrets,
            Op::CloudTrail(_) => Service::CloudTrail,
            Op::Query { service: trent_iam::Service::Iam, .. } => Service::Iam,
            Op::Query { .. } => Service::Sts,
        }
    }

    /// The operation's name (a metric label); `unknown` for an IAM/STS action not served.
    pub fn name(self) -> &'static str {
        match self {
            Op::Kms(o) => o.name(),
            Op::Ssm(o) => o.name(),
            Op::Secrets(o) => o.name(),
            Op::CloudTrail(CloudTrailOp::LookupEvents) => "LookupEvents",
            Op::Query { action, .. } => action.unwrap_or("unknown"),
        }
    }

    /// How the audit trail records it (CloudTrail's `readOnly`; whether an intent goes first).
    pub fn audit(self) -> Audit {
        match self {
            Op::Kms(o) => o.audit(),
            Op::Ssm(o) => o.audit(),
            Op::Secrets(o) => o.audit(),
            Op::CloudTrail(CloudTrailOp::LookupEvents) => Audit::Data,
            Op::Query { audit, .. } => audit,
        }
    }

    /// The request quota it counts against.
    pub fn quota(self) -> Quota {
        match self {
            Op::Kms(o) => o.quota(),
            Op::Ssm(o) => o.quota(),
            Op::Secrets(o) => o.quota(),
            Op::CloudTrail(CloudTrailOp::LookupEvents) => Quota::Own(2.0),
            // STS: AWS's documented 600 requests/s per account and region, all actions together.
            // IAM: AWS publishes no per-second figure; Trent's is generous (see quota.rs).
            Op::Query { service: trent_iam::Service::Sts, .. } => Quota::Shared("sts:all", 600.0),
            Op::Query { .. } => Quota::Shared("iam:all", 100.0),
        }
    }

    /// Policy evaluation (step 5 of the request path) for `caller`; on success, the context
    /// that [`Authorized::dispatch`] requires. IAM and STS evaluate inside trent-iam, which
    /// holds their records.
    pub fn authorize(self, app: &App, caller: Caller, body: &Body, env: &Env<'_>) -> Result<Authorized, BoxError> {
        let cross_account = match self {
            Op::Kms(o) => identity::authorize_kms(app, &caller, o, body, env)?,
            Op::Ssm(o) => {
                identity::authorize_ssm(app, &caller, o, body, env)?;
                false
            }
            Op::Secrets(o) => {
                identity::authorize_secrets(app, &caller, o, body, env)?;
                false
            }
            Op::CloudTrail(CloudTrailOp::LookupEvents) => {
                identity::authorize_cloudtrail(app, &caller, env)?;
                false
            }
            Op::Query { .. } => false,
        };
        Ok(Authorized { op: self, caller, cross_account })
    }
}

/// A request that policy evaluation allowed: who asks, in which region, for which operation,
/// and whether it uses another account's key. Only [`Op::authorize`] makes one (the fields
/// are private), and [`Authorized::dispatch`] is the only way to run an operation from HTTP.
pub struct Authorized {
    op: Op,
    caller: Caller,
    cross_account: bool,
}

impl Authorized {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn op(&self) -> Op {
        self.op
    }

    /// Runs the operation on the raw body (its handler decodes its typed request).
    pub fn dispatch(&self, app: &App, body: &[u8], request_id: &str, env: &Env<'_>) -> Result<Vec<u8>, BoxError> {
        let caller = &self.caller;
        let via = |service: &str| trent_kms::authz::ViaContext {
            service: format!("{service}.{}.amazonaws.com", caller.region),
            source_ip: env.source_ip.to_string(),
            secure_transport: env.secure_transport,
            now_secs: env.now_secs,
        };
        fn boxed<E: AwsError + Send + 'static>(e: E) -> BoxError {
            Box::new(e)
        }
        match self.op {
            Op::Kms(op) if self.cross_account && trent_kms::authz::CROSS_ACCOUNT_OPERATIONS.contains(&op) => {
                app.kms.dispatch(op, &caller.with_cross_account(), body).map_err(boxed)
            }
            Op::Kms(op) => app.kms.dispatch(op, caller, body).map_err(boxed),
            Op::Query { service, .. } => {
                let c = trent_iam::Caller { principal: caller.principal.clone(), region: caller.region.clone() };
                app.iam.dispatch(service, &c, body, request_id).map(|r| r.to_vec()).map_err(boxed)
            }
            // Their calls into KMS carry the request's context and are checked as made through
            // the service (kms:ViaService).
            Op::Ssm(op) => {
                app.ssm.dispatch(op, &caller.through(via("ssm"), app.service_authorizer.clone()), body).map_err(boxed)
            }
            Op::Secrets(op) => {
                // Operations returning several secrets check each one (secretsmanager:GetSecretValue).
                let reader = identity::secret_reader(app, env);
                app.secrets
                    .dispatch_authorized(
                        op,
                        &caller.through(via("secretsmanager"), app.service_authorizer.clone()),
                        body,
                        &reader,
                    )
                    .map_err(boxed)
            }
            Op::CloudTrail(CloudTrailOp::LookupEvents) => {
                crate::cloudtrail::dispatch(&app.audit, caller, "LookupEvents", body).map_err(boxed)
            }
        }
    }
}

/// Parses a request body once for every stage that reads its members (quota, authorization);
/// a body that is not a JSON object (awsQuery forms, garbage) reads as empty.
pub fn parse_body(body: &[u8]) -> Body {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => Body::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_json_op() -> Vec<Op> {
        let mut ops: Vec<Op> = trent_kms::Operation::ALL.iter().copied().map(Op::Kms).collect();
        ops.extend(trent_ssm::Operation::ALL.iter().copied().map(Op::Ssm));
        ops.extend(trent_secrets::Operation::ALL.iter().copied().map(Op::Secrets));
        ops.push(Op::CloudTrail(CloudTrailOp::LookupEvents));
        ops
    }

    #[test]
    fn every_target_prefix_names_its_service_and_every_operation_resolves_by_name() {
        for s in Service::ALL {
            if let Some(p) = s.target_prefix() {
                assert_eq!(Service::from_target_prefix(p), Some(*s));
            }
        }
        for op in every_json_op() {
            assert_eq!(op.service().operation(op.name()), Some(op), "{op:?}");
        }
        assert_eq!(Service::Kms.operation("NoSuchOperation"), None);
        assert_eq!(Service::CloudTrail.operation("CreateTrail"), None);
        assert_eq!(Service::from_target_prefix("AmazonSSM.x"), None);
    }

    #[test]
    fn audit_classes_follow_cloudtrails_read_only_rule() {
        // CloudTrail: reads (Get/List/Describe/BatchGet) and data use are read-only; every
        // other operation changes state and needs its intent on record first.
        for op in every_json_op() {
            let name = op.name();
            let reads = ["Get", "List", "Describe", "BatchGet"].iter().any(|p| name.starts_with(p));
            let a = op.audit();
            if reads {
                assert!(a.read_only(), "{name} reads");
            }
            if !a.read_only() {
                assert!(a.needs_intent(), "{name} writes, so its intent goes first");
            }
            if a == Audit::Data {
                assert!(!a.needs_intent(), "{name} changes nothing");
            }
        }
        let kms = |n: &str| Service::Kms.operation(n).unwrap().audit();
        assert!(kms("Decrypt").read_only() && kms("ListKeys").read_only() && !kms("Decrypt").needs_intent());
        assert!(!kms("CreateKey").read_only() && kms("CreateKey").needs_intent());
        // GetParametersForImport keeps import parameters: read-only for CloudTrail, intent first.
        assert!(kms("GetParametersForImport").read_only() && kms("GetParametersForImport").needs_intent());
        assert!(Service::Secrets.operation("GetSecretValue").unwrap().audit().read_only());
        assert!(Service::Secrets.operation("ValidateResourcePolicy").unwrap().audit().read_only());
        assert!(Service::Iam.operation("ListUsers").unwrap().audit().read_only());
        assert!(Service::Sts.operation("AssumeRole").unwrap().audit().needs_intent());
    }

    #[test]
    fn iam_actions_come_from_the_services_own_table() {
        assert_eq!(Service::Iam.operation("CreateUser").unwrap().name(), "CreateUser");
        assert_eq!(Service::Sts.operation("GetCallerIdentity").unwrap().service(), Service::Sts);
        assert_eq!(Service::Iam.operation("NoSuchAction").unwrap().name(), "unknown");
    }

    #[test]
    fn actions_are_the_service_prefix_and_the_operation() {
        assert_eq!(trent_kms::Operation::ReEncrypt.action(), "kms:ReEncrypt");
        assert_eq!(trent_ssm::Operation::GetParametersByPath.action(), "ssm:GetParametersByPath");
        assert_eq!(trent_secrets::Operation::GetSecretValue.action(), "secretsmanager:GetSecretValue");
    }

    #[test]
    fn a_body_is_parsed_once_into_its_members_and_garbage_reads_as_empty() {
        assert_eq!(parse_body(br#"{"KeyId":"k"}"#).get("KeyId").and_then(|v| v.as_str()), Some("k"));
        assert!(parse_body(b"\xff").is_empty() && parse_body(b"[1]").is_empty() && parse_body(b"").is_empty());
    }
}
