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
