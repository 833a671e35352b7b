"""The adversarial authorization table (issue #16, "Tests that stay").

Each row is (principal, policies in force, request, expected AWS outcome). The principals are
restricted IAM users, an assumed role, the account root and a second account's root and users;
the policies are identity policies, key policies, secret resource policies, grants with
constraints and conditions on `kms:ViaService` and `kms:EncryptionContext:`. Every path that
returns secret material or uses a key is covered: GetSecretValue, BatchGetSecretValue (ids and
filters), Parameter Store references to secrets, GetParameter / GetParameters /
GetParametersByPath WithDecryption, Decrypt, ReEncrypt, GenerateDataKey*, Sign,
DeriveSharedSecret, and CloudTrail LookupEvents.

A denied row also asserts that the secret or plaintext the request was after appears nowhere
in the response; an allowed row asserts that it does. One server and one set of principals
serve the whole table (module scope)."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, TrentServer
from test_iam import SECOND_ACCOUNT, SECOND_KEY_ID, SECOND_SECRET, client, policy

DENIED = "AccessDeniedException"
OK = "ok"
VIA_SM = f"secretsmanager.{REGION}.amazonaws.com"
VIA_SSM = f"ssm.{REGION}.amazonaws.com"
REF = "/aws/reference/secretsmanager/"


@dataclasses.dataclass
class Batch:
    """A BatchGetSecretValue answer: the secrets (keys of World.values) it returns, and the
    ErrorCode of each secret it reports instead."""

    values: list[str]
    errors: list[str]


@dataclasses.dataclass
class World:
    url: str
    word: str
    creds: dict[str, tuple[str, str, str | None]]
    keys: dict[str, dict]
    blobs: dict[str, bytes]
    secrets: dict[str, dict]
    values: dict[str, str]
    params: dict[str, str]
    peer_public_key: bytes
    _clients: dict = dataclasses.field(default_factory=dict)

    def client(self, who: str, service: str):
        if (who, service) not in self._clients:
            self._clients[(who, service)] = client(service, self.url, *self.creds[who])
        return self._clients[(who, service)]


def _stmt(action, resource="*", effect="Allow", **cond) -> dict:
    s = {"Effect": effect, "Action": action, "Resource": resource}
    if cond:
        s["Condition"] = cond
    return s


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    work = tmp_path_factory.mktemp("adversarial")
    srv = TrentServer(
        work / "data", work, {"TRENT_EXTRA_ADMIN_KEYS": f"{SECOND_ACCOUNT}:{SECOND_KEY_ID}:{SECOND_SECRET}"}
    )
    srv.start()
    try:
        yield _build(srv.base_url)
    finally:
        srv.kill()


def _build(url: str) -> World:
    root = (ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, None)
    other_root = (SECOND_KEY_ID, SECOND_SECRET, None)
    iam, kms, sm, ssm = (client(s, url, *root) for s in ("iam", "kms", "secretsmanager", "ssm"))
    other_iam = client("iam", url, *other_root)
    word = f"adv{uuid.uuid4().hex[:8]}"
    acct_root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    creds: dict[str, tuple[str, str, str | None]] = {"root": root, "other-root": other_root}
    arns: dict[str, str] = {}

    def user(name: str, *statements: dict, account_iam=iam) -> str:
        u = f"{word}-{name}"
        arn = account_iam.create_user(UserName=u)["User"]["Arn"]
        if statements:
            account_iam.put_user_policy(UserName=u, PolicyName="p", PolicyDocument=policy(*statements))
        k = account_iam.create_access_key(UserName=u)["AccessKey"]
        creds[name] = (k["AccessKeyId"], k["SecretAccessKey"], None)
        arns[name] = arn
        return arn

    # Keys.
    keys: dict[str, dict] = {}
    for k in ("open", "sm", "ssm", "ec", "grant", "dst", "noroot"):
        keys[k] = kms.create_key(Description=f"{word} {k}")["KeyMetadata"]
    keys["denyroot"] = kms.create_key(
        Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": acct_root}, "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "NoDecryptForTheAccount",
                "Effect": "Deny",
                "Principal": {"AWS": acct_root},
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": "*",
            },
        )
    )["KeyMetadata"]
    keys["cross"] = kms.create_key(
        Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": acct_root}, "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SECOND_ACCOUNT}:root"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": "*",
            },
        )
    )["KeyMetadata"]
    keys["sign"] = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    keys["ecdh"] = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    peer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    peer_public_key = kms.get_public_key(KeyId=peer["KeyId"])["PublicKey"]

    # Ciphertexts (made while the root may still use every key).
    values = {
        "open": f"{word}-plain-open",
        "denyroot": f"{word}-plain-denyroot",
        "noroot": f"{word}-plain-noroot",
        "ssmkey": f"{word}-plain-ssmkey",
        "ec-ok": f"{word}-plain-ec-ok",
        "ec-bad": f"{word}-plain-ec-bad",
        "grant-a": f"{word}-plain-grant-a",
        "grant-b": f"{word}-plain-grant-b",
        "cross": f"{word}-plain-cross",
    }
    enc = lambda key, v, **kw: kms.encrypt(KeyId=keys[key]["KeyId"], Plaintext=values[v].encode(), **kw)["CiphertextBlob"]
    blobs = {
        "open": enc("open", "open"),
        "denyroot": enc("denyroot", "denyroot"),
        "noroot": enc("noroot", "noroot"),
        "ssmkey": enc("ssm", "ssmkey"),
        "ec-ok": enc("ec", "ec-ok", EncryptionContext={"purpose": "ok"}),
        "ec-bad": enc("ec", "ec-bad", EncryptionContext={"purpose": "other"}),
        "grant-a": enc("grant", "grant-a", EncryptionContext={"tenant": "a"}),
        "grant-b": enc("grant", "grant-b", EncryptionContext={"tenant": "b"}),
        "cross": enc("cross", "cross"),
    }
    values["shared"] = base64.b64encode(
        kms.derive_shared_secret(KeyId=keys["ecdh"]["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_public_key)[
            "SharedSecret"
        ]
    ).decode()

    # Principals of this account.
    user("none")
    user("sm-only", _stmt(["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
                           "secretsmanager:ListSecrets", "secretsmanager:DescribeSecret"]))
    user(
        "sm-kms",
        _stmt("secretsmanager:*"),
        _stmt("kms:Decrypt", keys["sm"]["Arn"], StringEquals={"kms:ViaService": VIA_SM}),
    )
    user("batch-only", _stmt(["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"]))
    user("batch-nolist", _stmt(["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"]))
    user("rp-reader", _stmt("secretsmanager:BatchGetSecretValue"))
    ssm_read = _stmt(["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"])
    user("ssm-only", ssm_read)
    user("ssm-ref", ssm_read, _stmt("secretsmanager:GetSecretValue"), _stmt("kms:Decrypt"))
    user("ssm-ref-nokms", ssm_read, _stmt("secretsmanager:GetSecretValue"))
    user("ssm-via", ssm_read, _stmt("kms:Decrypt", keys["ssm"]["Arn"], StringEquals={"kms:ViaService": VIA_SSM}))
    user(
        "kms-user",
        _stmt(["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:Sign", "kms:Verify",
               "kms:DeriveSharedSecret", "kms:DescribeKey", "kms:GetPublicKey"]),
        _stmt("kms:GenerateDataKeyPair*", effect="Deny"),
    )
    user("reenc-nosrc", _stmt(["kms:ReEncryptTo", "kms:Encrypt"]))
    user("reenc-nodst", _stmt(["kms:ReEncryptFrom"]))
    user("decrypt-only", _stmt("kms:Decrypt"))
    user(
        "ec-user",
        _stmt(["kms:Encrypt", "kms:Decrypt"], keys["ec"]["Arn"], StringEquals={"kms:EncryptionContext:purpose": "ok"}),
    )
    user("grantee")
    user("trail-reader", _stmt("cloudtrail:LookupEvents"))
    # A role, assumed by a user allowed to.
    assumer = user("assumer")
    role = iam.create_role(
        RoleName=f"{word}-role",
        AssumeRolePolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": assumer}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=policy(_stmt("kms:Decrypt", keys["open"]["Arn"])))
    iam.put_user_policy(
        UserName=f"{word}-assumer", PolicyName="p", PolicyDocument=policy(_stmt("sts:AssumeRole", role["Arn"]))
    )
    session = client("sts", url, *creds["assumer"]).assume_role(RoleArn=role["Arn"], RoleSessionName="adv")
    c = session["Credentials"]
    creds["role"] = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    # Principals of the second account.
    user("other-kms", _stmt(["kms:Encrypt", "kms:Decrypt"]), account_iam=other_iam)
    user("other-none", account_iam=other_iam)

    # A key whose policy no longer lets the account in (only one user, lockout check bypassed).
    kms.put_key_policy(
        KeyId=keys["noroot"]["KeyId"],
        PolicyName="default",
        Policy=policy({"Effect": "Allow", "Principal": {"AWS": arns["kms-user"]}, "Action": "kms:DescribeKey", "Resource": "*"}),
        BypassPolicyLockoutSafetyCheck=True,
    )
    # A grant with a constraint.
    kms.create_grant(
        KeyId=keys["grant"]["KeyId"],
        GranteePrincipal=arns["grantee"],
        Operations=["Decrypt", "Encrypt"],
        Constraints={"EncryptionContextEquals": {"tenant": "a"}},
    )

    # Secrets.
    secrets: dict[str, dict] = {}
    for name, kw in {
        "managed": {},
        "cmk": {"KmsKeyId": keys["sm"]["Arn"]},
        "rpdeny": {},
        "rpallow": {},
    }.items():
        values[f"s-{name}"] = f"{word}-secret-{name}"
        secrets[name] = sm.create_secret(Name=f"{word}/{name}", SecretString=values[f"s-{name}"], **kw)
    sm.put_resource_policy(
        SecretId=secrets["rpdeny"]["ARN"],
        ResourcePolicy=policy(
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ),
    )
    sm.put_resource_policy(
        SecretId=secrets["rpallow"]["ARN"],
        ResourcePolicy=policy(
            {"Effect": "Allow", "Principal": {"AWS": arns["rp-reader"]}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ),
    )
    # Parameters.
    params = {"managed": f"/{word}/p/managed", "cmk": f"/{word}/p/cmk"}
    values["p-managed"] = f"{word}-param-managed"
    values["p-cmk"] = f"{word}-param-cmk"
    ssm.put_parameter(Name=params["managed"], Value=values["p-managed"], Type="SecureString")
    ssm.put_parameter(Name=params["cmk"], Value=values["p-cmk"], Type="SecureString", KeyId=keys["ssm"]["KeyId"])
    return World(url, word, creds, keys, blobs, secrets, values, params, peer_public_key)


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------

Call = Callable[[World, str], Any]


def gsv(secret: str) -> Call:
    return lambda w, who: w.client(who, "secretsmanager").get_secret_value(SecretId=w.secrets[secret]["ARN"])


def batch_ids(*secrets: str) -> Call:
    return lambda w, who: w.client(who, "secretsmanager").batch_get_secret_value(
        SecretIdList=[w.secrets[s]["ARN"] for s in secrets]
    )


def batch_filter() -> Call:
    return lambda w, who: w.client(who, "secretsmanager").batch_get_secret_value(
        Filters=[{"Key": "name", "Values": [f"{w.word}/"]}]
    )


def ref(secret: str) -> Call:
    return lambda w, who: w.client(who, "ssm").get_parameter(Name=REF + w.secrets[secret]["Name"], WithDecryption=True)


def refs(*secrets: str) -> Call:
    return lambda w, who: w.client(who, "ssm").get_parameters(
        Names=[REF + w.secrets[s]["Name"] for s in secrets], WithDecryption=True
    )


def get_param(p: str) -> Call:
    return lambda w, who: w.client(who, "ssm").get_parameter(Name=w.params[p], WithDecryption=True)


def get_params(p: str) -> Call:
    return lambda w, who: w.client(who, "ssm").get_parameters(Names=[w.params[p]], WithDecryption=True)


def by_path() -> Call:
    return lambda w, who: w.client(who, "ssm").get_parameters_by_path(Path=f"/{w.word}/p", WithDecryption=True)


def decrypt(blob: str, key: str | None = None, **kw) -> Call:
    def call(w, who):
        args = {"CiphertextBlob": w.blobs[blob], **kw}
        if key:
            args["KeyId"] = w.keys[key]["Arn"]
        return w.client(who, "kms").decrypt(**args)

    return call


def encrypt(key: str, **kw) -> Call:
    return lambda w, who: w.client(who, "kms").encrypt(KeyId=w.keys[key]["Arn"], Plaintext=b"adversarial", **kw)


def reencrypt(blob: str, dst: str) -> Call:
    return lambda w, who: w.client(who, "kms").re_encrypt(
        CiphertextBlob=w.blobs[blob], DestinationKeyId=w.keys[dst]["Arn"]
    )


def gdk(key: str, op: str = "generate_data_key", **kw) -> Call:
    if op.startswith("generate_data_key_pair"):
        kw.setdefault("KeyPairSpec", "ECC_NIST_P256")
    else:
        kw.setdefault("KeySpec", "AES_256")
    return lambda w, who: getattr(w.client(who, "kms"), op)(KeyId=w.keys[key]["Arn"], **kw)


def describe(key: str) -> Call:
    return lambda w, who: w.client(who, "kms").describe_key(KeyId=w.keys[key]["Arn"])


def sign(key: str) -> Call:
    return lambda w, who: w.client(who, "kms").sign(
        KeyId=w.keys[key]["Arn"], Message=b"adversarial", SigningAlgorithm="ECDSA_SHA_256"
    )


def derive(key: str) -> Call:
    return lambda w, who: w.client(who, "kms").derive_shared_secret(
        KeyId=w.keys[key]["Arn"], KeyAgreementAlgorithm="ECDH", PublicKey=w.peer_public_key
    )


def lookup_events() -> Call:
    return lambda w, who: w.client(who, "cloudtrail").lookup_events(MaxResults=5)


# --------------------------------------------------------------------------------------
# The table: (id, principal, request, expected, the secret that must (not) be in the answer)
# --------------------------------------------------------------------------------------

ROWS: list[tuple[str, str, Call, Any, str | None]] = [
    # GetSecretValue
    ("gsv/no-policy", "none", gsv("managed"), DENIED, "s-managed"),
    ("gsv/identity-allows-aws-managed-key", "sm-only", gsv("managed"), OK, "s-managed"),
    ("gsv/no-kms-decrypt-on-customer-key", "sm-only", gsv("cmk"), DENIED, "s-cmk"),
    ("gsv/kms-decrypt-via-secretsmanager", "sm-kms", gsv("cmk"), OK, "s-cmk"),
    ("gsv/resource-policy-deny-beats-identity-allow", "sm-only", gsv("rpdeny"), DENIED, "s-rpdeny"),
    ("gsv/resource-policy-alone-allows", "rp-reader", gsv("rpallow"), OK, "s-rpallow"),
    ("gsv/resource-policy-of-another-secret", "rp-reader", gsv("managed"), DENIED, "s-managed"),
    ("gsv/root-against-resource-policy-deny", "root", gsv("rpdeny"), DENIED, "s-rpdeny"),
    ("gsv/root-without-resource-policy", "root", gsv("cmk"), OK, "s-cmk"),
    ("gsv/role-without-secrets-permission", "role", gsv("managed"), DENIED, "s-managed"),
    ("gsv/other-account-user", "other-kms", gsv("managed"), DENIED, "s-managed"),
    # BatchGetSecretValue by ids
    ("batch-ids/batch-permission-only", "batch-only", batch_ids("managed"), Batch([], [DENIED]), "s-managed"),
    ("batch-ids/kms-denied-secret-in-errors", "sm-only", batch_ids("managed", "cmk"), Batch(["s-managed"], [DENIED]), "s-cmk"),
    ("batch-ids/kms-via-secretsmanager", "sm-kms", batch_ids("cmk"), Batch(["s-cmk"], []), "s-cmk"),
    ("batch-ids/resource-policy-deny", "sm-only", batch_ids("rpdeny"), Batch([], [DENIED]), "s-rpdeny"),
    ("batch-ids/root-against-resource-policy-deny", "root", batch_ids("rpdeny", "managed"), Batch(["s-managed"], [DENIED]), "s-rpdeny"),
    ("batch-ids/resource-policy-alone-allows", "rp-reader", batch_ids("rpallow"), Batch(["s-rpallow"], []), "s-rpallow"),
    ("batch-ids/resource-policy-of-another-secret", "rp-reader", batch_ids("managed"), Batch([], [DENIED]), "s-managed"),
    ("batch-ids/no-batch-permission", "none", batch_ids("managed"), DENIED, "s-managed"),
    # BatchGetSecretValue by filters
    ("batch-filter/needs-list-secrets", "batch-nolist", batch_filter(), DENIED, "s-managed"),
    ("batch-filter/every-secret-in-errors", "batch-only", batch_filter(), Batch([], [DENIED] * 4), "s-managed"),
    ("batch-filter/kms-and-resource-policy-denials", "sm-only", batch_filter(), Batch(["s-managed", "s-rpallow"], [DENIED, DENIED]), "s-rpdeny"),
    ("batch-filter/root-against-resource-policy-deny", "root", batch_filter(), Batch(["s-cmk", "s-managed", "s-rpallow"], [DENIED]), "s-rpdeny"),
    ("batch-filter/no-permission", "none", batch_filter(), DENIED, "s-managed"),
    # Parameter Store references to secrets
    ("ref/ssm-permission-only", "ssm-only", ref("managed"), DENIED, "s-managed"),
    ("ref/with-get-secret-value", "ssm-ref-nokms", ref("managed"), OK, "s-managed"),
    ("ref/customer-key-without-kms", "ssm-ref-nokms", ref("cmk"), DENIED, "s-cmk"),
    ("ref/customer-key-with-kms", "ssm-ref", ref("cmk"), OK, "s-cmk"),
    ("ref/resource-policy-deny", "ssm-ref", ref("rpdeny"), DENIED, "s-rpdeny"),
    ("ref/root-against-resource-policy-deny", "root", ref("rpdeny"), DENIED, "s-rpdeny"),
    ("ref/root-without-resource-policy", "root", ref("managed"), OK, "s-managed"),
    ("ref/get-parameters-with-one-denied", "ssm-ref", refs("managed", "rpdeny"), DENIED, "s-managed"),
    ("ref/secrets-permission-without-ssm", "sm-only", ref("managed"), DENIED, "s-managed"),
    # Parameters WithDecryption
    ("param/get-parameter-kms-denied", "ssm-only", get_param("cmk"), DENIED, "p-cmk"),
    ("param/get-parameter-aws-managed-key", "ssm-only", get_param("managed"), OK, "p-managed"),
    ("param/get-parameters-kms-denied", "ssm-only", get_params("cmk"), DENIED, "p-cmk"),
    ("param/get-parameters-by-path-kms-denied", "ssm-only", by_path(), DENIED, "p-cmk"),
    ("param/kms-decrypt-via-ssm", "ssm-via", get_param("cmk"), OK, "p-cmk"),
    ("param/by-path-kms-decrypt-via-ssm", "ssm-via", by_path(), OK, "p-cmk"),
    ("param/root", "root", get_param("cmk"), OK, "p-cmk"),
    ("param/no-policy", "none", get_param("managed"), DENIED, "p-managed"),
    # Decrypt
    ("decrypt/identity-allows", "kms-user", decrypt("open"), OK, "open"),
    ("decrypt/no-policy", "none", decrypt("open"), DENIED, "open"),
    ("decrypt/via-ssm-condition-refuses-direct-call", "ssm-via", decrypt("ssmkey"), DENIED, "ssmkey"),
    ("decrypt/key-policy-without-the-account", "decrypt-only", decrypt("noroot"), DENIED, "noroot"),
    ("decrypt/root-key-policy-without-the-account", "root", decrypt("noroot"), DENIED, "noroot"),
    ("decrypt/root-against-key-policy-deny", "root", decrypt("denyroot"), DENIED, "denyroot"),
    ("decrypt/user-against-key-policy-deny", "kms-user", decrypt("denyroot"), DENIED, "denyroot"),
    ("decrypt/role-allowed", "role", decrypt("open"), OK, "open"),
    ("decrypt/wrong-key-id-named", "kms-user", decrypt("open", key="dst"), "IncorrectKeyException", "open"),
    # Encryption context conditions
    ("ec/condition-matches", "ec-user", decrypt("ec-ok", EncryptionContext={"purpose": "ok"}), OK, "ec-ok"),
    ("ec/condition-other-value", "ec-user", decrypt("ec-bad", EncryptionContext={"purpose": "other"}), DENIED, "ec-bad"),
    ("ec/condition-without-context", "ec-user", encrypt("ec"), DENIED, None),
    ("ec/encrypt-condition-matches", "ec-user", encrypt("ec", EncryptionContext={"purpose": "ok"}), OK, None),
    # Grants with constraints
    ("grant/constraint-matches", "grantee", decrypt("grant-a", EncryptionContext={"tenant": "a"}), OK, "grant-a"),
    ("grant/constraint-other-context", "grantee", decrypt("grant-b", EncryptionContext={"tenant": "b"}), DENIED, "grant-b"),
    ("grant/operation-not-granted", "grantee", gdk("grant", EncryptionContext={"tenant": "a"}), DENIED, None),
    ("grant/encrypt-granted", "grantee", encrypt("grant", EncryptionContext={"tenant": "a"}), OK, None),
    ("grant/encrypt-constraint-unmet", "grantee", encrypt("grant"), DENIED, None),
    # ReEncrypt
    ("reencrypt/allowed", "kms-user", reencrypt("open", "dst"), OK, None),
    ("reencrypt/source-denied", "reenc-nosrc", reencrypt("open", "dst"), DENIED, "open"),
    ("reencrypt/destination-denied", "reenc-nodst", reencrypt("open", "dst"), DENIED, "open"),
    ("reencrypt/root-source-key-policy-deny", "root", reencrypt("denyroot", "dst"), DENIED, "denyroot"),
    ("reencrypt/root-destination-without-the-account", "root", reencrypt("open", "noroot"), DENIED, "open"),
    # GenerateDataKey*
    ("gdk/allowed", "kms-user", gdk("open"), OK, None),
    ("gdk/decrypt-only", "decrypt-only", gdk("open"), DENIED, None),
    ("gdk/without-plaintext-decrypt-only", "decrypt-only", gdk("open", "generate_data_key_without_plaintext"), DENIED, None),
    ("gdk/pair-explicit-identity-deny", "kms-user", gdk("open", "generate_data_key_pair"), DENIED, None),
    ("gdk/root-key-policy-without-the-account", "root", gdk("noroot"), DENIED, None),
    ("gdk/root-default-key-policy", "root", gdk("open"), OK, None),
    # Sign, DeriveSharedSecret
    ("sign/allowed", "kms-user", sign("sign"), OK, None),
    ("sign/decrypt-only", "decrypt-only", sign("sign"), DENIED, None),
    ("sign/root", "root", sign("sign"), OK, None),
    ("derive/allowed", "kms-user", derive("ecdh"), OK, "shared"),
    ("derive/decrypt-only", "decrypt-only", derive("ecdh"), DENIED, "shared"),
    ("derive/no-policy", "none", derive("ecdh"), DENIED, "shared"),
    # Key management by the root against the key policy
    ("describe/root-key-policy-without-the-account", "root", describe("noroot"), DENIED, None),
    ("describe/the-one-user-the-key-policy-names", "kms-user", describe("noroot"), OK, None),
    ("encrypt/root-deny-covers-only-decrypt", "root", encrypt("denyroot"), OK, None),
    # Cross-account
    ("cross/other-root-key-policy-allows", "other-root", decrypt("cross", key="cross"), OK, "cross"),
    ("cross/other-root-default-key-policy", "other-root", encrypt("open"), DENIED, None),
    ("cross/other-user-identity-and-key-policy", "other-kms", encrypt("cross"), OK, None),
    ("cross/other-user-without-identity-policy", "other-none", encrypt("cross"), DENIED, None),
    ("cross/other-user-key-policy-silent", "other-kms", decrypt("open", key="open"), DENIED, "open"),
    # CloudTrail LookupEvents
    ("trail/no-policy", "none", lookup_events(), DENIED, None),
    ("trail/allowed", "trail-reader", lookup_events(), OK, None),
    ("trail/root", "root", lookup_events(), OK, None),
    ("trail/secrets-reader", "sm-only", lookup_events(), DENIED, None),
]


def _text(resp) -> str:
    def default(o):
        if isinstance(o, (bytes, bytearray)):
            return base64.b64encode(o).decode() + " " + o.decode("latin-1")
        return str(o)

    return json.dumps(resp, default=default)


def _mentions(text: str, secret: str) -> bool:
    return secret in text or base64.b64encode(secret.encode()).decode() in text


@pytest.mark.parametrize(
    "who,call,expected,secret", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_adversarial(world, who, call, expected, secret):
    value = world.values[secret] if secret else None
    try:
        resp = call(world, who)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        assert code == expected, f"{who}: expected {expected}, got {code}: {e.response['Error'].get('Message')}"
        if value:
            assert not _mentions(_text(e.response), value), e.response
        return
    resp.pop("ResponseMetadata", None)
    if isinstance(expected, Batch):
        got_values = sorted(v["SecretString"] for v in resp["SecretValues"])
        assert got_values == sorted(world.values[k] for k in expected.values), resp["Errors"]
        assert sorted(e["ErrorCode"] for e in resp["Errors"]) == sorted(expected.errors), resp["Errors"]
        if value and secret not in expected.values:
            assert not _mentions(_text(resp), value), resp
        return
    assert expected == OK, f"{who}: expected {expected}, the request succeeded"
    if value:
        assert _mentions(_text(resp), value), f"the allowed answer lacks the {secret} value"


def test_the_table_is_large_and_covers_every_path():
    assert len(ROWS) >= 60
    assert len({r[0] for r in ROWS}) == len(ROWS), "row ids must be unique"
    families = {r[0].split("/")[0] for r in ROWS}
    for f in ("gsv", "batch-ids", "batch-filter", "ref", "param", "decrypt", "reencrypt", "gdk", "sign",
              "derive", "grant", "ec", "cross", "trail"):
        assert f in families, f
    assert sum(1 for r in ROWS if r[3] != OK and not isinstance(r[3], Batch)) >= 30
