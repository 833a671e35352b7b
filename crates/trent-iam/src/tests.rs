//! Every action through `Iam::dispatch` with awsQuery bodies, as the server calls it.

use crate::{Caller, Iam, IamError, Identity, Service};
use std::sync::Arc;
use trent_crypto::RootKey;
use trent_policy::{Principal, PrincipalKind};
use trent_store::Store;
use trent_wire::sigv4::CredentialLookup;
use trent_wire::AwsError;

struct Fixture {
    _dir: tempfile::TempDir,
    iam: Iam,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(trent_store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let identity = Arc::new(Identity::new(store.clone(), Arc::new(root)));
    Fixture { _dir: dir, iam: Iam::new(store, identity) }
}

fn root() -> Caller {
    Caller { principal: Principal::root("111122223333"), region: "us-east-1".into() }
}

fn enc(s: &str) -> String {
    crate::model::url_encode(s)
}

fn call(iam: &Iam, svc: Service, c: &Caller, body: &str) -> Result<String, IamError> {
    iam.dispatch(svc, c, body.as_bytes(), "req-1").map(|b| String::from_utf8(b.to_vec()).unwrap())
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

fn user_caller(iam: &Iam, name: &str) -> Caller {
    let u = iam.user("111122223333", name).unwrap();
    Caller {
        principal: Principal {
            account_id: "111122223333".into(),
            kind: PrincipalKind::User { name: u.name, path: u.path, id: u.id },
        },
        region: "us-east-1".into(),
    }
}

#[test]
fn create_user_answers_aws_shaped_xml_and_duplicates_conflict() {
    let f = fixture();
    let xml = call(&f.iam, Service::Iam, &root(), "Action=CreateUser&Version=2010-05-08&UserName=bob&Path=%2Fteam%2F")
        .unwrap();
    assert!(xml.starts_with(
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>"
    ));
    assert_eq!(between(&xml, "Arn"), "arn:aws:iam::111122223333:user/team/bob");
    assert!(between(&xml, "UserId").starts_with("AIDA"));
    let e = call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=BOB").unwrap_err();
    assert_eq!((e.code(), e.status()), ("EntityAlreadyExists", 409));
    let e = call(&f.iam, Service::Iam, &root(), "Action=GetUser&UserName=alice").unwrap_err();
    assert_eq!(
        (e.code(), e.status(), e.message()),
        ("NoSuchEntity", 404, "The user with name alice cannot be found.".into())
    );
}

#[test]
fn invalid_names_and_unknown_actions_are_refused() {
    let f = fixture();
    let e = call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=a%20b").unwrap_err();
    assert_eq!(e.code(), "ValidationError");
    assert!(e.message().contains("at 'userName' failed to satisfy constraint"), "{}", e.message());
    let e = call(&f.iam, Service::Iam, &root(), "Action=Frobnicate").unwrap_err();
    assert_eq!(e.code(), "InvalidAction");
    let e = call(&f.iam, Service::Iam, &root(), "UserName=x").unwrap_err();
    assert_eq!(e.code(), "MissingAction");
    let e = call(&f.iam, Service::Iam, &root(), "Action=CreateUser").unwrap_err();
    assert_eq!(e.code(), "MissingParameter");
}

#[test]
fn access_keys_are_limited_to_two_and_usable_until_inactive() {
    let f = fixture();
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=bob").unwrap();
    let xml = call(&f.iam, Service::Iam, &root(), "Action=CreateAccessKey&UserName=bob").unwrap();
    let id = between(&xml, "AccessKeyId").to_string();
    assert_eq!(between(&xml, "SecretAccessKey").len(), 40);
    let cred = f.iam.identity().lookup(&id, None).expect("new key usable");
    assert!(matches!(&cred.principal.kind, PrincipalKind::User { name, .. } if name == "bob"));
    call(&f.iam, Service::Iam, &root(), "Action=CreateAccessKey&UserName=bob").unwrap();
    let e = call(&f.iam, Service::Iam, &root(), "Action=CreateAccessKey&UserName=bob").unwrap_err();
    assert_eq!(e.code(), "LimitExceeded");
    call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=UpdateAccessKey&UserName=bob&AccessKeyId={id}&Status=Inactive"),
    )
    .unwrap();
    assert!(f.iam.identity().lookup(&id, None).is_none(), "an inactive key must not verify");
    let e = call(&f.iam, Service::Iam, &root(), "Action=DeleteUser&UserName=bob").unwrap_err();
    assert_eq!(e.code(), "DeleteConflict");
}

#[test]
fn inline_policy_documents_are_validated_sized_and_returned_url_encoded() {
    let f = fixture();
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=bob").unwrap();
    let e = call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=PutUserPolicy&UserName=bob&PolicyName=p&PolicyDocument={}", enc(r#"{"Statement":[]"#)),
    )
    .unwrap_err();
    assert_eq!(e.code(), "MalformedPolicyDocument");
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#;
    call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=PutUserPolicy&UserName=bob&PolicyName=p&PolicyDocument={}", enc(doc)),
    )
    .unwrap();
    let xml = call(&f.iam, Service::Iam, &root(), "Action=GetUserPolicy&UserName=bob&PolicyName=p").unwrap();
    assert_eq!(between(&xml, "PolicyDocument"), enc(doc));
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:us-east-1:111122223333:key/{}"}}}}"#,
        "a".repeat(2100)
    );
    let e = call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=PutUserPolicy&UserName=bob&PolicyName=q&PolicyDocument={}", enc(&big)),
    )
    .unwrap_err();
    assert_eq!(e.code(), "LimitExceeded");
    let policies = f.iam.identity_policies(&user_caller(&f.iam, "bob").principal).unwrap();
    assert_eq!(policies.len(), 1);
}

#[test]
fn users_need_an_identity_policy_for_iam_actions() {
    let f = fixture();
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=bob").unwrap();
    let bob = user_caller(&f.iam, "bob");
    let e = call(&f.iam, Service::Iam, &bob, "Action=CreateUser&UserName=eve").unwrap_err();
    assert_eq!((e.code(), e.status()), ("AccessDenied", 403));
    assert_eq!(
        e.message(),
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::111122223333:user/eve because no identity-based policy allows the iam:CreateUser action"
    );
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::111122223333:user/e*"}}"#;
    call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=PutUserPolicy&UserName=bob&PolicyName=p&PolicyDocument={}", enc(doc)),
    )
    .unwrap();
    call(&f.iam, Service::Iam, &bob, "Action=CreateUser&UserName=eve").unwrap();
    let e = call(&f.iam, Service::Iam, &bob, "Action=CreateUser&UserName=mallory").unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    // GetCallerIdentity needs no permission.
    let xml = call(&f.iam, Service::Sts, &bob, "Action=GetCallerIdentity&Version=2011-06-15").unwrap();
    assert_eq!(between(&xml, "Arn"), "arn:aws:iam::111122223333:user/bob");
}

#[test]
fn assume_role_checks_the_trust_policy_and_issues_expiring_session_credentials() {
    let f = fixture();
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=bob").unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}}"#;
    let xml = call(
        &f.iam,
        Service::Iam,
        &root(),
        &format!("Action=CreateRole&RoleName=app&AssumeRolePolicyDocument={}", enc(trust)),
    )
    .unwrap();
    let role_arn = between(&xml, "Arn").to_string();
    let bob = user_caller(&f.iam, "bob");
    let e = call(
        &f.iam,
        Service::Sts,
        &bob,
        &format!("Action=AssumeRole&RoleArn={}&RoleSessionName=s1&DurationSeconds=899", enc(&role_arn)),
    )
    .unwrap_err();
    assert_eq!(e.code(), "ValidationError");
    let e = call(
        &f.iam,
        Service::Sts,
        &bob,
        &format!("Action=AssumeRole&RoleArn={}&RoleSessionName=s1&DurationSeconds=3601", enc(&role_arn)),
    )
    .unwrap_err();
    assert!(e.message().contains("MaxSessionDuration"));
    let xml =
        call(&f.iam, Service::Sts, &bob, &format!("Action=AssumeRole&RoleArn={}&RoleSessionName=s1", enc(&role_arn)))
            .unwrap();
    let id = between(&xml, "AccessKeyId");
    let token = between(&xml, "SessionToken");
    assert!(id.starts_with("ASIA"));
    assert_eq!(between(&xml, "Arn"), "arn:aws:sts::111122223333:assumed-role/app/s1");
    let cred = f.iam.identity().lookup_checked(id, Some(token)).unwrap();
    assert_eq!(cred.principal.arn("aws"), "arn:aws:sts::111122223333:assumed-role/app/s1");
    // Another user is not in the trust policy.
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=eve").unwrap();
    let eve = user_caller(&f.iam, "eve");
    let e =
        call(&f.iam, Service::Sts, &eve, &format!("Action=AssumeRole&RoleArn={}&RoleSessionName=s1", enc(&role_arn)))
            .unwrap_err();
    assert_eq!((e.code(), e.status()), ("AccessDenied", 403));
    // A role that does not exist is AccessDenied too, as on AWS.
    let e = call(
        &f.iam,
        Service::Sts,
        &bob,
        "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fnope&RoleSessionName=s1",
    )
    .unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
}

#[test]
fn managed_policies_attach_count_and_refuse_deletion_while_attached() {
    let f = fixture();
    call(&f.iam, Service::Iam, &root(), "Action=CreateUser&UserName=bob").unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}}"#;
    let xml =
        call(&f.iam, Service::Iam, &root(), &format!("Action=CreatePolicy&PolicyName=dec&PolicyDocument={}", enc(doc)))
            .unwrap();
    let arn = between(&xml, "Arn").to_string();
    assert_eq!(arn, "arn:aws:iam::111122223333:policy/dec");
    call(&f.iam, Service::Iam, &root(), &format!("Action=AttachUserPolicy&UserName=bob&PolicyArn={}", enc(&arn)))
        .unwrap();
    let xml = call(&f.iam, Service::Iam, &root(), &format!("Action=GetPolicy&PolicyArn={}", enc(&arn))).unwrap();
    assert_eq!(between(&xml, "AttachmentCount"), "1");
    assert_eq!(f.iam.identity_policies(&user_caller(&f.iam, "bob").principal).unwrap().len(), 1);
    let e = call(&f.iam, Service::Iam, &root(), &format!("Action=DeletePolicy&PolicyArn={}", enc(&arn))).unwrap_err();
    assert_eq!(e.code(), "DeleteConflict");
    call(&f.iam, Service::Iam, &root(), &format!("Action=DetachUserPolicy&UserName=bob&PolicyArn={}", enc(&arn)))
        .unwrap();
    let e =
        call(&f.iam, Service::Iam, &root(), &format!("Action=DetachUserPolicy&UserName=bob&PolicyArn={}", enc(&arn)))
            .unwrap_err();
    assert_eq!(e.code(), "NoSuchEntity");
    call(&f.iam, Service::Iam, &root(), &format!("Action=DeletePolicy&PolicyArn={}", enc(&arn))).unwrap();
}

#[test]
fn list_users_pages_with_marker() {
    let f = fixture();
    for n in ["a1", "a2", "a3"] {
        call(&f.iam, Service::Iam, &root(), &format!("Action=CreateUser&UserName={n}")).unwrap();
    }
    let xml = call(&f.iam, Service::Iam, &root(), "Action=ListUsers&MaxItems=2").unwrap();
    assert_eq!(between(&xml, "IsTruncated"), "true");
    let marker = between(&xml, "Marker").to_string();
    let xml = call(&f.iam, Service::Iam, &root(), &format!("Action=ListUsers&MaxItems=2&Marker={marker}")).unwrap();
    assert_eq!(between(&xml, "IsTruncated"), "false");
    assert_eq!(between(&xml, "UserName"), "a3");
}

fn put(iam: &Iam, action: &str, params: &[(&str, &str)]) -> Result<String, IamError> {
    let mut body = format!("Action={action}");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", enc(v)));
    }
    call(iam, Service::Iam, &root(), &body)
}

/// Ask whether `c` may do `action` on any resource, with its stored identity policies.
fn identity_outcome(iam: &Iam, c: &Caller, action: &str) -> trent_policy::Outcome {
    let policies = iam.identity_policies(&c.principal).unwrap();
    let rp = trent_policy::RequestPrincipal::from_principal(&c.principal, "aws");
    let ctx = trent_policy::RequestContext::new(rp, action, "arn:aws:kms:us-east-1:111122223333:key/k");
    trent_policy::evaluate_identity(&ctx, &policies).outcome()
}

#[test]
fn an_unreadable_stored_policy_denies_everything_instead_of_being_ignored() {
    use crate::model::{ManagedPolicyRecord, UserRecord, T_POLICY, T_USER};
    use trent_policy::Outcome;
    let f = fixture();
    put(&f.iam, "CreateUser", &[("UserName", "bob")]).unwrap();
    let allow_all = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    put(&f.iam, "PutUserPolicy", &[("UserName", "bob"), ("PolicyName", "all"), ("PolicyDocument", allow_all)]).unwrap();
    let bob = user_caller(&f.iam, "bob");
    assert_eq!(identity_outcome(&f.iam, &bob, "kms:Decrypt"), Outcome::Allow);

    // A Deny whose record no longer parses (written around the API, as a damaged row would be).
    let broken_deny = r#"{"Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Oops":1}}"#;
    let mut tx = f.iam.write().unwrap();
    let mut u: UserRecord = Iam::get_in(&mut *tx, T_USER, "111122223333", "bob").unwrap().unwrap();
    u.inline.insert("deny-decrypt".into(), broken_deny.into());
    Iam::put_in(&mut *tx, T_USER, "111122223333", "bob", &u).unwrap();
    tx.commit().unwrap();
    assert_eq!(identity_outcome(&f.iam, &bob, "kms:Decrypt"), Outcome::ExplicitDeny);
    assert_eq!(identity_outcome(&f.iam, &bob, "kms:Encrypt"), Outcome::ExplicitDeny, "deny-all, not a guess");
    let e = call(&f.iam, Service::Iam, &bob, "Action=GetUser").unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    assert!(!e.message().contains("Oops"), "{}", e.message());

    // The same for an attached managed policy, and for a role's session.
    put(&f.iam, "DeleteUserPolicy", &[("UserName", "bob"), ("PolicyName", "deny-decrypt")]).unwrap();
    let mut tx = f.iam.write().unwrap();
    let mut u: UserRecord = Iam::get_in(&mut *tx, T_USER, "111122223333", "bob").unwrap().unwrap();
    u.inline.remove("deny-decrypt");
    let arn = "arn:aws:iam::111122223333:policy/broken".to_string();
    u.attached.push(arn);
    Iam::put_in(&mut *tx, T_USER, "111122223333", "bob", &u).unwrap();
    let m = ManagedPolicyRecord {
        name: "broken".into(),
        path: "/".into(),
        id: "ANPAEXAMPLE".into(),
        created_ms: 0,
        updated_ms: 0,
        document: "{not json".into(),
        description: None,
        attachment_count: 1,
    };
    Iam::put_in(&mut *tx, T_POLICY, "111122223333", "broken", &m).unwrap();
    tx.commit().unwrap();
    assert_eq!(f.iam.identity_policies(&bob.principal).unwrap().len(), 2);
    assert_eq!(identity_outcome(&f.iam, &bob, "kms:Decrypt"), Outcome::ExplicitDeny);
}

#[test]
fn identity_policies_are_refused_with_iam_messages() {
    let f = fixture();
    put(&f.iam, "CreateUser", &[("UserName", "bob")]).unwrap();
    put(&f.iam, "CreateRole", &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    let stmt = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{{{s}}}]}}"#);
    let cases = [
        ("not json".to_string(), "Syntax errors in policy."),
        (
            stmt(r#""Effect":"Allow","Action":"Encrypt","Resource":"*""#),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#),
            "Policy document should not specify a principal.",
        ),
        (stmt(r#""Effect":"allow","Action":"kms:*","Resource":"*""#), "The policy failed legacy parsing"),
        (r#"{"Version":"2012-10-18","Statement":[]}"#.to_string(), "The policy failed legacy parsing"),
        (stmt(r#""Effect":"Allow","Action":"kms:*","Resource":"*","Condtion":{}"#), "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Action":"kms:*""#), "Policy statement must contain resources."),
    ];
    for (doc, msg) in &cases {
        for (action, target) in [
            ("CreatePolicy", None),
            ("PutUserPolicy", Some(("UserName", "bob"))),
            ("PutRolePolicy", Some(("RoleName", "app"))),
        ] {
            let mut params = vec![("PolicyName", "p"), ("PolicyDocument", doc.as_str())];
            params.extend(target);
            let e = put(&f.iam, action, &params).unwrap_err();
            assert_eq!(
                (e.code(), e.status(), e.message()),
                ("MalformedPolicyDocument", 400, msg.to_string()),
                "{action} {doc}"
            );
        }
    }
    assert!(f.iam.identity_policies(&user_caller(&f.iam, "bob").principal).unwrap().is_empty());
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;

#[test]
fn trust_policies_are_refused_with_iam_messages() {
    let f = fixture();
    put(&f.iam, "CreateRole", &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    let stmt = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{{{s}}}]}}"#);
    let cases = [
        (stmt(r#""Effect":"Allow","Action":"sts:AssumeRole""#), "Missing required field Principal".to_string()),
        (
            stmt(r#""Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole""#),
            r#"Invalid principal in policy: "AWS":"bob""#.to_string(),
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*""#),
            "Has prohibited field Resource".to_string(),
        ),
        (
            stmt(r#""Effect":"Allow","Principal":"*","Action":"AssumeRole""#),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.".to_string(),
        ),
    ];
    for (doc, msg) in &cases {
        let e = put(&f.iam, "CreateRole", &[("RoleName", "other"), ("AssumeRolePolicyDocument", doc)]).unwrap_err();
        assert_eq!((e.code(), e.message()), ("MalformedPolicyDocument", msg.clone()), "CreateRole {doc}");
        let e = put(&f.iam, "UpdateAssumeRolePolicy", &[("RoleName", "app"), ("PolicyDocument", doc)]).unwrap_err();
        assert_eq!((e.code(), e.message()), ("MalformedPolicyDocument", msg.clone()), "UpdateAssumeRolePolicy {doc}");
    }
    assert!(put(&f.iam, "GetRole", &[("RoleName", "other")]).is_err(), "no role was created");
}

#[test]
fn policy_size_quotas_count_characters_without_white_space() {
    let f = fixture();
    put(&f.iam, "CreateUser", &[("UserName", "bob")]).unwrap();
    put(&f.iam, "CreateRole", &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    // A document of exactly `n` non-white-space characters, padded with white space too.
    let sized = |n: usize| {
        let base = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:us-east-1:111122223333:key/"}}"#;
        let pad = n - base.len();
        format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:aws:kms:us-east-1:111122223333:key/{}"}}}}"#,
            "a".repeat(pad)
        )
    };
    assert_eq!(trent_policy::iam_policy_size(&sized(6144)), 6144);
    put(&f.iam, "CreatePolicy", &[("PolicyName", "fits"), ("PolicyDocument", &sized(6144))]).unwrap();
    let e = put(&f.iam, "CreatePolicy", &[("PolicyName", "big"), ("PolicyDocument", &sized(6145))]).unwrap_err();
    assert_eq!(
        (e.code(), e.status(), e.message()),
        ("LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144".into())
    );
    let e = put(&f.iam, "PutUserPolicy", &[("UserName", "bob"), ("PolicyName", "p"), ("PolicyDocument", &sized(2049))])
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user bob".into())
    );
    put(&f.iam, "PutRolePolicy", &[("RoleName", "app"), ("PolicyName", "p"), ("PolicyDocument", &sized(10240))])
        .unwrap();
    let e = put(&f.iam, "PutRolePolicy", &[("RoleName", "app"), ("PolicyName", "q"), ("PolicyDocument", &sized(200))])
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        ("LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role app".into())
    );
}

// -- OpenID Connect providers and AssumeRoleWithWebIdentity ------------------------------

mod web_identity {
    use super::*;
    use crate::oidc::{Jwks, OidcKeys};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISSUER: &str = "https://issuer.example.com/id/1";

    struct FakeKeys {
        jwks: Arc<Jwks>,
        fetches: AtomicUsize,
    }

    impl OidcKeys for FakeKeys {
        fn jwks(&self, issuer: &str, _refresh: bool) -> Result<Arc<Jwks>, String> {
            assert_eq!(issuer, ISSUER);
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.jwks.clone())
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        iam: Iam,
        key: EcdsaKeyPair,
        keys: Arc<FakeKeys>,
    }

    fn setup(trust_condition: &str) -> Setup {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let pt = key.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&pt[1..33]), "y": URL_SAFE_NO_PAD.encode(&pt[33..])}]});
        let keys = Arc::new(FakeKeys {
            jwks: Arc::new(Jwks::parse(&serde_json::to_vec(&jwks).unwrap()).unwrap()),
            fetches: AtomicUsize::new(0),
        });
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(trent_store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap());
        let (rootk, _) = RootKey::generate().unwrap();
        let identity = Arc::new(Identity::new(store.clone(), Arc::new(rootk)));
        let iam = Iam::new(store, identity).with_oidc_keys(keys.clone());
        let xml = call(
            &iam,
            Service::Iam,
            &root(),
            &format!("Action=CreateOpenIDConnectProvider&Url={}&ClientIDList.member.1=sts.amazonaws.com", enc(ISSUER)),
        )
        .unwrap();
        let provider = between(&xml, "OpenIDConnectProviderArn").to_string();
        assert_eq!(provider, "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/id/1");
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity"{trust_condition}}}]}}"#
        );
        call(
            &iam,
            Service::Iam,
            &root(),
            &format!("Action=CreateRole&RoleName=ci&AssumeRolePolicyDocument={}", enc(&trust)),
        )
        .unwrap();
        Setup { _dir: dir, iam, key, keys }
    }

    fn token(key: &EcdsaKeyPair, header: serde_json::Value, claims: serde_json::Value) -> String {
        let e = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", e(&header), e(&claims));
        let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn claims(s: &Setup, extra: serde_json::Value) -> serde_json::Value {
        let now = s.iam.now_ms() / 1000;
        let mut c = serde_json::json!({"iss": ISSUER, "sub": "repo:org/app:ref:main", "aud": "sts.amazonaws.com",
            "iat": now, "exp": now + 300, "amr": ["pwd"]});
        if let (Some(c), Some(x)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn assume(s: &Setup, tok: &str) -> Result<String, IamError> {
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=run-1&WebIdentityToken={}",
            enc("arn:aws:iam::111122223333:role/ci"),
            enc(tok)
        );
        s.iam.dispatch_unsigned(body.as_bytes(), "req-1").map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn a_valid_token_assumes_the_role_with_the_subject_condition() {
        let cond = r#","Condition":{"StringLike":{"issuer.example.com/id/1:sub":"repo:org/app:*"},"ForAnyValue:StringEquals":{"issuer.example.com/id/1:amr":"pwd"}}"#;
        let s = setup(cond);
        let h = serde_json::json!({"alg": "ES256", "kid": "k1"});
        let xml = assume(&s, &token(&s.key, h.clone(), claims(&s, serde_json::json!({})))).unwrap();
        assert_eq!(between(&xml, "SubjectFromWebIdentityToken"), "repo:org/app:ref:main");
        assert_eq!(between(&xml, "Provider"), "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/id/1");
        assert_eq!(between(&xml, "Audience"), "sts.amazonaws.com");
        assert_eq!(between(&xml, "Arn"), "arn:aws:sts::111122223333:assumed-role/ci/run-1");
        assert!(between(&xml, "AccessKeyId").starts_with("ASIA"));
        let e = assume(&s, &token(&s.key, h.clone(), claims(&s, serde_json::json!({"sub": "repo:evil/app:ref:main"}))))
            .unwrap_err();
        assert_eq!((e.code(), e.status()), ("AccessDenied", 403));
        let e = assume(&s, &token(&s.key, h, claims(&s, serde_json::json!({"amr": ["otp"]})))).unwrap_err();
        assert_eq!(e.code(), "AccessDenied");
    }

    #[test]
    fn bad_tokens_get_aws_errors() {
        let s = setup("");
        let h = serde_json::json!({"alg": "ES256", "kid": "k1"});
        let now = s.iam.now_ms() / 1000;
        let cases = [
            (claims(&s, serde_json::json!({"aud": "other"})), "InvalidIdentityToken"),
            (claims(&s, serde_json::json!({"exp": now - 3600})), "ExpiredTokenException"),
            (claims(&s, serde_json::json!({"nbf": now + 3600})), "InvalidIdentityToken"),
            (claims(&s, serde_json::json!({"iss": "https://other.example.com"})), "InvalidIdentityToken"),
            (claims(&s, serde_json::json!({"sub": ""})), "IDPRejectedClaim"),
        ];
        for (c, code) in cases {
            let e = assume(&s, &token(&s.key, h.clone(), c.clone())).unwrap_err();
            assert_eq!(e.code(), code, "{c}");
        }
        // Another key under the same kid; an unknown kid (fetched again once); alg none.
        let other = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap().as_ref(),
        )
        .unwrap();
        assert_eq!(
            assume(&s, &token(&other, h, claims(&s, serde_json::json!({})))).unwrap_err().code(),
            "InvalidIdentityToken"
        );
        let before = s.keys.fetches.load(Ordering::SeqCst);
        let unknown =
            token(&s.key, serde_json::json!({"alg": "ES256", "kid": "k9"}), claims(&s, serde_json::json!({})));
        assert_eq!(assume(&s, &unknown).unwrap_err().code(), "InvalidIdentityToken");
        assert_eq!(s.keys.fetches.load(Ordering::SeqCst), before + 2, "the cached set, then a refresh");
        let e = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let none = format!("{}.{}.", e(&serde_json::json!({"alg": "none"})), e(&claims(&s, serde_json::json!({}))));
        assert_eq!(assume(&s, &none).unwrap_err().code(), "InvalidIdentityToken");
        // Only AssumeRoleWithWebIdentity may come unsigned.
        let err = s.iam.dispatch_unsigned(b"Action=GetCallerIdentity", "r").unwrap_err();
        assert_eq!(err.code(), "MissingAuthenticationTokenException");
    }

    #[test]
    fn provider_actions_and_get_session_token() {
        let s = setup("");
        let arn = enc("arn:aws:iam::111122223333:oidc-provider/issuer.example.com/id/1");
        let xml = call(
            &s.iam,
            Service::Iam,
            &root(),
            &format!("Action=GetOpenIDConnectProvider&OpenIDConnectProviderArn={arn}"),
        )
        .unwrap();
        assert_eq!(between(&xml, "Url"), "issuer.example.com/id/1");
        call(
            &s.iam,
            Service::Iam,
            &root(),
            &format!("Action=AddClientIDToOpenIDConnectProvider&OpenIDConnectProviderArn={arn}&ClientID=x"),
        )
        .unwrap();
        let xml = call(
            &s.iam,
            Service::Iam,
            &root(),
            &format!("Action=GetOpenIDConnectProvider&OpenIDConnectProviderArn={arn}"),
        )
        .unwrap();
        assert!(
            xml.contains("<ClientIDList><member>sts.amazonaws.com</member><member>x</member></ClientIDList>"),
            "{xml}"
        );
        let e = call(&s.iam, Service::Iam, &root(), "Action=CreateOpenIDConnectProvider&Url=http%3A%2F%2Fexample.com")
            .unwrap_err();
        assert_eq!(e.code(), "InvalidInput");
        call(&s.iam, Service::Iam, &root(), "Action=CreateOpenIDConnectProvider&Url=http%3A%2F%2F127.0.0.1%3A8080")
            .unwrap();
        call(
            &s.iam,
            Service::Iam,
            &root(),
            &format!("Action=DeleteOpenIDConnectProvider&OpenIDConnectProviderArn={arn}"),
        )
        .unwrap();
        let e = call(
            &s.iam,
            Service::Iam,
            &root(),
            &format!("Action=GetOpenIDConnectProvider&OpenIDConnectProviderArn={arn}"),
        )
        .unwrap_err();
        assert_eq!((e.code(), e.status()), ("NoSuchEntity", 404));

        let xml = call(&s.iam, Service::Sts, &root(), "Action=GetSessionToken&DurationSeconds=900").unwrap();
        assert!(between(&xml, "AccessKeyId").starts_with("ASIA"));
        let session = Caller {
            principal: Principal {
                account_id: "111122223333".into(),
                kind: PrincipalKind::AssumedRole {
                    role_name: "ci".into(),
                    role_id: "AROA1".into(),
                    session_name: "s".into(),
                },
            },
            region: "us-east-1".into(),
        };
        assert_eq!(call(&s.iam, Service::Sts, &session, "Action=GetSessionToken").unwrap_err().code(), "AccessDenied");
        let e = call(&s.iam, Service::Sts, &root(), "Action=GetSessionToken&DurationSeconds=10").unwrap_err();
        assert_eq!(e.code(), "ValidationError");
    }
}
