#!/usr/bin/env python3
"""Regenerates docs/COMPATIBILITY.md from the botocore service model (the contract), the
operation table in crates/trent-kms/src/lib.rs (what the server dispatches) and the notes below.
Run with the compat venv's python:  .venv/bin/python scripts/gen-compatibility.py [--check]
--check writes nothing and fails when docs/COMPATIBILITY.md is stale. Either way it fails when a
served operation has no test that calls it (the "tests" column names only files that do).
"""
import glob
import os
import re
import sys

import botocore
import botocore.session

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOT_YET = {
    "DeleteImportedKeyMaterial": "imported key material: issue 6",
    "GetParametersForImport": "imported key material: issue 6",
    "ImportKeyMaterial": "imported key material: issue 6",
    "DisableKeyRotation": "rotation: issue 6",
    "EnableKeyRotation": "rotation: issue 6",
    "GetKeyRotationStatus": "rotation: issue 6",
    "ListKeyRotations": "rotation: issue 6",
    "RotateKeyOnDemand": "rotation: issue 6",
    "ReplicateKey": "multi-Region keys: issue 6",
    "UpdatePrimaryRegion": "multi-Region keys: issue 6",
    "GetKeyLastUsage": "not yet planned",
}

NOTES = {
    "ConnectCustomKeyStore": "AWS_CLOUDHSM stores: logs in to the PKCS#11 token (`--pkcs11-cluster`); a failure is ConnectionState FAILED with INVALID_CREDENTIALS / CLUSTER_NOT_FOUND / INTERNAL_ERROR; docs/CUSTOM_KEY_STORES.md",
    "CreateCustomKeyStore": "AWS_CLOUDHSM over a PKCS#11 token declared with `--pkcs11-cluster`; password wrapped under the root key; EXTERNAL_KEY_STORE → UnsupportedOperationException (Trent serves the XKS proxy side instead)",
    "DeleteCustomKeyStore": "DISCONNECTED stores without keys only",
    "DescribeCustomKeyStores": "by id or name, paged",
    "DisconnectCustomKeyStore": "closes the token sessions; the store's keys refuse to work until it is connected again",
    "UpdateCustomKeyStore": "name, password, cluster (not for a store with keys); DISCONNECTED stores only",
    "CreateKey": "every KeySpec except SM2 (aws-lc has no SM2; → UnsupportedOperationException), with the KeyUsage combinations AWS allows; Origin AWS_KMS, EXTERNAL and AWS_CLOUDHSM (AES-256 generated in the store's PKCS#11 token; EXTERNAL_KEY_STORE → UnsupportedOperationException); MultiRegion (not with EXTERNAL); Policy validated and lockout-checked as in PutKeyPolicy",
    "Decrypt": "symmetric blobs (KeyId optional) and raw RSA-OAEP ciphertexts (KeyId and EncryptionAlgorithm required); Recipient (Nitro attestation) → UnsupportedOperationException; DryRunModifiers IGNORE_CIPHERTEXT supported",
    "Encrypt": "SYMMETRIC_DEFAULT (1–4096 bytes, encryption context authenticated with an unambiguous encoding) and RSAES_OAEP_SHA_1/256 (raw OAEP output; size limit per key size)",
    "ReEncrypt": "between any ENCRYPT_DECRYPT keys, symmetric or RSA",
    "GenerateDataKey": "Recipient → UnsupportedOperationException",
    "GenerateDataKeyPair": "RSA, ECC (NIST and secp256k1) and Ed25519 pairs; PKCS#8 private key; ML_KEM and SM2 pair specs → UnsupportedOperationException",
    "GenerateDataKeyPairWithoutPlaintext": "as GenerateDataKeyPair",
    "GenerateRandom": "CustomKeyStoreId → CustomKeyStoreNotFoundException; Recipient → UnsupportedOperationException",
    "PutKeyPolicy": "validated with the engine's grammar (MalformedPolicyDocumentException with IAM's messages; over 32 KB → LimitExceededException; a statement without `Action` or `Resource` is refused, where AWS stores it with no effect), the lockout safety check (MalformedPolicyDocumentException unless BypassPolicyLockoutSafetyCheck); evaluated on every request to the key, the account root included",
    "CreateGrant": "GranteePrincipal, RetiringPrincipal, Operations, Constraints (EncryptionContextEquals / Subset), Name for idempotency; the grant token works at once",
    "ListGrants": "by key, GrantId or GranteePrincipal, paged",
    "ListRetirableGrants": "grants a principal may retire, paged",
    "RetireGrant": "by GrantToken, or KeyId + GrantId; by the retiring principal, the grantee (when allowed) or the account",
    "RevokeGrant": "by KeyId + GrantId",
    "GetKeyPolicy": "AWS's default key policy when none was given",
    "ScheduleKeyDeletion": "7–30 days; a background task destroys the key and its aliases when due; a multi-Region primary with replicas is PendingReplicaDeletion until they are gone",
    "CancelKeyDeletion": "the key returns Disabled, as on AWS",
    "UpdateAlias": "the new target must have the same key spec and usage",
    "DescribeKey": "key id, key ARN, alias name or alias ARN; the algorithm list that fits the key's usage",
    "Sign": "RSASSA_PSS (salt = hash length), RSASSA_PKCS1_V1_5, ECDSA (P-256/384/521, secp256k1), ED25519_SHA_512, ED25519_PH_SHA_512, ML_DSA_SHAKE_256; MessageType RAW and DIGEST; EXTERNAL_MU → UnsupportedOperationException (aws-lc does not expose ML-DSA with an external mu); SM2DSA not available",
    "Verify": "an invalid signature → KMSInvalidSignatureException, as on AWS",
    "VerifyMac": "an invalid MAC → KMSInvalidMacException, as on AWS",
    "GetPublicKey": "DER SubjectPublicKeyInfo; ML-KEM keys with the FIPS 203 OIDs",
    "DeriveSharedSecret": "the raw ECDH secret; peer key as DER SPKI on the same curve; Recipient → UnsupportedOperationException",
    "EnableKeyRotation": "symmetric AWS_KMS keys; RotationPeriodInDays 90–2560 (default 365); the scheduler rotates when due, and on start after an outage",
    "RotateKeyOnDemand": "immediate; at most 25 per key (LimitExceededException); asymmetric, HMAC and imported keys → UnsupportedOperationException",
    "ListKeyRotations": "RotationType AUTOMATIC / ON_DEMAND, KeyMaterialId, KeyMaterialState; IncludeKeyMaterial ALL_KEY_MATERIAL lists the original material too",
    "GetKeyRotationStatus": "RotationPeriodInDays and NextRotationDate when enabled; AWS-managed keys rotate yearly",
    "GetParametersForImport": "RSA_2048/3072/4096 wrapping keys; RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1/256, RSA_AES_KEY_WRAP_SHA_1/256; token and key valid 24 hours; SM2PKE not available",
    "ImportKeyMaterial": "symmetric (32 bytes), HMAC (AWS's length ranges), RSA / ECC / Ed25519 (PKCS#8); KEY_MATERIAL_EXPIRES with ValidTo (≤ 365 days) or DOES_NOT_EXPIRE; reimport must be the same material (IncorrectKeyMaterialException); ImportType NEW_KEY_MATERIAL (rotation of imported material) not yet",
    "DeleteImportedKeyMaterial": "the key returns to PendingImport; expired material is deleted by the scheduler",
    "ReplicateKey": "same key id (mrk-…) and material in another region of the deployment; a ciphertext made in one region decrypts in the other; rotation of the primary reaches every replica",
    "UpdatePrimaryRegion": "swaps the primary and a replica",
    "Encapsulate": "ML-KEM-512/768/1024 to the key's own public key",
    "Decapsulate": "ML-KEM; a malformed ciphertext → InvalidCiphertextException",
}

FOOT = """
### Behaviour common to every KMS operation

| topic | behaviour | tests |
|---|---|---|
| Authentication | SigV4 required; `MissingAuthenticationTokenException`, `IncompleteSignatureException`, `InvalidSignatureException` (bad signature, expired `X-Amz-Date` outside ±5 min, scope for another service, unsigned `x-amz-*` header, `UNSIGNED-PAYLOAD`), `UnrecognizedClientException` | `tests/compat/test_auth.py`, `crates/trent-server/tests/server.rs`, `crates/trent-wire/src/sigv4.rs` |
| Framing | `UnknownOperationException`, `SerializationException` (bad JSON, wrong types, bad base64), `ValidationException` with AWS-style messages, HTTP 413 `RequestEntityTooLargeException` over `--max-body-bytes` | `tests/compat/test_framing.py`, `crates/trent-server/tests/server.rs` |
| Regions and partitions | every AWS region (and `--extra-region`s) in the SigV4 scope, others refused (`InvalidSignatureException`); resources separate per region; `aws`, `aws-cn`, `aws-us-gov`… partitions in ARNs | `tests/compat/test_regions.py`, `tests/compat/test_hardening.py` |
| Authorization | every request is evaluated before it runs: the key policy (it must allow directly, or name the account so the caller's IAM policies apply), the caller's identity policies, grants; cross-account use needs both accounts' policies; denials are `AccessDeniedException` with AWS's message | `tests/compat/test_iam.py`, `crates/trent-policy/tests/` |
| Grant tokens | a grant's token works at once, before the grant is listed | `tests/compat/test_iam.py` |
| Durability | acknowledged writes survive SIGTERM restart and kill -9 | `tests/compat/test_persistence.py`, `crates/trent-server/tests/server.rs` |
| Clients | boto3, the AWS CLI v1, aws-secretsmanager-caching, and the AWS SDK for JavaScript v3 (a second, independent SigV4 signer) | `tests/compat/`, `tests/compat/test_js_sdk.py` |
| Independent verification | blobs decrypt with Python `cryptography`; signatures, ECDH secrets, OAEP ciphertexts and ML-KEM secrets checked with `cryptography` and OpenSSL | `tests/compat/test_ciphertext_format.py`, `tests/compat/test_asymmetric.py` |

"""

_IAM_POLICY_NOTE = (
    "document parsed with the engine's grammar (MalformedPolicyDocument with IAM's messages), "
    "size quotas without white space (LimitExceeded)"
)
IAM_NOTES = {
    op: _IAM_POLICY_NOTE for op in ("CreatePolicy", "CreateRole", "PutRolePolicy", "PutUserPolicy", "UpdateAssumeRolePolicy")
}
IAM_NOTES.update({
    "CreateOpenIDConnectProvider": "https:// issuers (http:// only for a loopback address, for tests); ClientIDList, "
    "ThumbprintList (kept; the issuer's certificate is verified against trusted roots and `--oidc-ca-file`), Tags; "
    "EntityAlreadyExists, LimitExceeded (100 per account, 100 client ids, 5 thumbprints)",
    "GetOpenIDConnectProvider": "Url without its scheme, as AWS returns it; NoSuchEntity",
    "AddClientIDToOpenIDConnectProvider": "idempotent",
    "RemoveClientIDFromOpenIDConnectProvider": "idempotent, as AWS documents",
    "AssumeRoleWithWebIdentity": "unsigned, as the SDKs send it; OIDC ID tokens (RS256, ES256 verified with aws-lc-rs) "
    "against the issuer's JWKS (discovery document, cached for its max-age, refetched on an unknown kid at most every "
    "5 s); iss → the role account's provider, aud/azp in its client ids, exp/nbf/iat with 60 s leeway; trust policy "
    "with `Federated` and `HOST/PATH:sub|aud|amr`; InvalidIdentityToken, ExpiredTokenException, IDPRejectedClaim, "
    "IDPCommunicationError, AccessDenied; session policies and ProviderId (OAuth 2.0) not supported",
    "GetSessionToken": "users and the account root (at most 1 h); role sessions → AccessDenied; 900–129,600 s; "
    "MFA (SerialNumber/TokenCode) → AccessDenied (Trent has no MFA devices)",
})

CLOUDTRAIL_NOTES = {
    "LookupEvents": "the audit trail's events of the caller's account and region, newest first: one LookupAttribute "
    "(EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId), StartTime/EndTime, "
    "MaxResults 1–50, NextToken; EventCategory `insight` returns no events (Trent records management events only); "
    "AWS's errors (InvalidLookupAttributes, InvalidTimeRange, InvalidMaxResults, InvalidNextToken, InvalidEventCategory)",
}

SSM_NOTES = {
    "PutParameter": "String / StringList / SecureString (through Trent's KMS; default key `alias/aws/ssm`, created on first use as an AWS-managed key; context `PARAMETER_ARN`); naming and hierarchy rules; 4 KB Standard / 8 KB Advanced; Intelligent-Tiering; no tier downgrade; AllowedPattern; 100-version limit; Policies (Expiration, ExpirationNotification, NoChangeNotification) applied by the scheduler; per-tier parameter limits (configurable); change events to files and webhooks",
    "GetParameter": "name or ARN, `:version` and `:label` selectors, WithDecryption; `/aws/reference/secretsmanager/<secret>[:stage|:version]` reads a Secrets Manager secret (SourceResult included)",
    "GetParameters": "missing names, versions and labels in InvalidParameters",
    "GetParametersByPath": "Recursive, ParameterFilters (Type, KeyId, Label, DataType, tag:), MaxResults/NextToken",
    "GetParameterHistory": "kept versions with labels, paged",
    "DescribeParameters": "ParameterFilters (Name Equals/BeginsWith/Contains, Type, KeyId, Path Recursive/OneLevel, Tier, DataType, tag:) and legacy Filters, paged",
    "LabelParameterVersion": "AWS's label rules (invalid labels reported), labels move between versions, max 10 per version",
    "AddTagsToResource": "ResourceType Parameter only (others → InvalidResourceType); max 50 tags",
}

SM_NOTES = {
    "CreateSecret": "SecretString or SecretBinary up to 64 KB, encrypted through Trent's KMS (default key `alias/aws/secretsmanager`, created on first use; context SecretARN + SecretVersionId); ClientRequestToken idempotency; Tags; AddReplicaRegions (+ ForceOverwriteReplicaSecret) replicates at once, ReplicationStatus in the answer (docs/SECRETS.md)",
    "GetSecretValue": "by name, full or partial ARN; VersionId / VersionStage (AWSCURRENT by default); a disabled KMS key → DecryptionFailure; a secret marked for deletion → InvalidRequestException",
    "PutSecretValue": "AWSCURRENT moves, the old current becomes AWSPREVIOUS; VersionStages; idempotent tokens; at most 100 versions (unlabelled ones dropped first); counts as a rotation for an AutomaticallyAfterDays schedule (LastRotatedDate and NextRotationDate move, as AWS); replicas follow",
    "UpdateSecretVersionStage": "moving a label off a version requires naming it (RemoveFromVersionId); AWSCURRENT cannot be removed, only moved",
    "DeleteSecret": "RecoveryWindowInDays 7–30 (default 30) or ForceDeleteWithoutRecovery; the scheduler destroys it when due; a primary with replicas → InvalidParameterException until they are removed; ForceDeleteWithoutRecovery on a missing secret succeeds, as on AWS",
    "ListSecrets": "Filters (name, description, tag-key, tag-value, primary-region, all; prefix match, `!` negates); PrimaryRegion, IncludePlannedDeletion, SortBy/SortOrder, paging",
    "BatchGetSecretValue": "SecretIdList or Filters; per-secret failures in Errors",
    "GetRandomPassword": "every option; CSPRNG with rejection sampling; RequireEachIncludedType",
    "RotateSecret": "no rotation function → InvalidRequestException, as on AWS (Trent's own rotators are named: `trent-builtin`, …); the four-step contract (createSecret, setSecret, testSecret, finishSecret) run before the answer (AWS runs it asynchronously); a failed step → InvalidRequestException naming it, AWSCURRENT unchanged, AWSPENDING kept for a resume with the same ClientRequestToken; built-in PostgreSQL and MySQL/MariaDB rotators (single user and alternating users), generic, executable and webhook functions (docs/ROTATION.md); RotationRules AutomaticallyAfterDays, rate(), cron(), Duration; scheduler incl. rotations missed while down; RotateImmediately=false stores the configuration and tests it with testSecret on a temporary AWSPENDING copy of AWSCURRENT (removed afterwards), as AWS documents; rotation results reach the replicas",
    "CancelRotateSecret": "turns automatic rotation off; names the unfinished AWSPENDING version, if any",
    "DescribeSecret": "PrimaryRegion; LastAccessedDate (a date, per region, set by GetSecretValue / BatchGetSecretValue); ReplicationStatus (Region, KmsKeyId, Status InSync/Failed, StatusMessage, LastAccessedDate of the replica) on a primary; TrentLastRotationFailure (not an AWS member) after a failed rotation",
    "ReplicateSecretToRegions": "copies the secret to each region at once, re-encrypted under the replica's KmsKeyId (default that region's `alias/aws/secretsmanager`); kept in sync on every change of the primary; an unusable key or a name taken there (without ForceOverwriteReplicaSecret) → Status Failed, the primary unaffected; writes on a replica → InvalidRequestException (docs/SECRETS.md)",
    "RemoveRegionsFromReplication": "deletes the replicas at once (no recovery window)",
    "StopReplicationToReplica": "called in the replica's region: promotes it to a standalone, writable secret; the primary stops listing it",
    "PutResourcePolicy": "parsed and validated as an IAM resource policy (MalformedPolicyDocumentException); BlockPublicPolicy refuses broad access (`*` without a condition pinning account, org, principal, source or network) with PublicPolicyException; replicated; enforcement is the server's authorizer (`SecretsManager::resource_policy`)",
    "GetResourcePolicy": "no ResourcePolicy member when none is attached",
    "ValidateResourcePolicy": "non-JSON → MalformedPolicyDocumentException; grammar (POLICY_GRAMMAR) and broad access (BROAD_ACCESS) as ValidationErrors; SecretId optional",
}

SM_NOT_YET: dict = {}

PARAMETER_STORE_OPS = {
    "PutParameter", "GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory",
    "DeleteParameter", "DeleteParameters", "DescribeParameters", "LabelParameterVersion",
    "UnlabelParameterVersion", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource",
}


# How a test file calls an operation (the "tests" column names only files that do):
#   boto3:   `.create_key(` (the client's snake_case method)
#   AWS CLI: `kms create-key`, `"kms", "create-key"` (the service, then the kebab-case command)
#   raw:     `TrentService.CreateKey` (X-Amz-Target) or `Action=CreateUser` / `"Action": "CreateUser"` (awsQuery)
#   Rust:    `"CreateKey"` (the crate tests call dispatch with the operation's name; awsQuery bodies `Action=CreateUser`)
TARGET_PREFIXES = {
    "kms": "TrentService",
    "ssm": "AmazonSSM",
    "secretsmanager": "secretsmanager",
    "cloudtrail": "CloudTrail_20131101",
}


def calls(text: str, svc: str, op: str, rust: bool = False) -> bool:
    s = snake(op)
    cli = s.replace("_", "-")
    action = r"""Action(=|["']\s*[:,]\s*["'])""" + op + r"\b"
    if rust:
        return f'"{op}"' in text or re.search(action, text) is not None
    pats = [
        r"\." + s + r"\(",
        r"\b" + svc + r"""["']?\s*,?\s*["']?""" + cli + r"(?![\w-])",
        action,
    ]
    if svc in TARGET_PREFIXES:
        pats.append(re.escape(TARGET_PREFIXES[svc] + "." + op) + r"\b")
    return any(re.search(p, text) for p in pats)


MISSING_TESTS: list = []


def service_table(model, implemented, texts, notes, not_yet, crate_tests, in_scope=None, svc=None):
    svc = svc or model.service_name
    crate_text = open(os.path.join(REPO, crate_tests)).read()
    rows, outside = [], []
    for op in sorted(model.operation_names):
        if op in implemented:
            hits = [f"`tests/compat/{f}`" for f, t in texts.items() if calls(t, svc, op)]
            if calls(crate_text, svc, op, rust=True):
                hits.append(f"`{crate_tests}`")
            if not hits:
                MISSING_TESTS.append(f"{svc}:{op}")
            rows.append(f"| {op} | ✅ implemented | {notes.get(op, '')} | {', '.join(hits) or '—'} |")
        elif in_scope is not None and op not in in_scope:
            outside.append(op)
        else:
            rows.append(f"| {op} | ❌ not yet | {not_yet.get(op, '')} | — |")
    return rows, outside


def snake(name: str) -> str:
    # botocore's own method names (CreateOpenIDConnectProvider → create_open_id_connect_provider).
    return botocore.xform_name(name)


def main() -> None:
    model = botocore.session.get_session().get_service_model("kms")
    lib = open(os.path.join(REPO, "crates/trent-kms/src/lib.rs")).read()
    implemented = set(re.findall(r"^\s+(\w+) => \w+\b", lib, re.M))
    files = sorted(glob.glob(os.path.join(REPO, "tests/compat/test_*.py")))
    texts = {os.path.basename(f): open(f).read() for f in files}
    rows, _ = service_table(model, implemented, texts, NOTES, NOT_YET, "crates/trent-kms/src/tests.rs")
    ssm_model = botocore.session.get_session().get_service_model("ssm")
    ssm_lib = open(os.path.join(REPO, "crates/trent-ssm/src/lib.rs")).read()
    ssm_impl = set(re.findall(r"^\s+(\w+) => \w+\b", ssm_lib, re.M))
    ssm_rows, ssm_outside = service_table(
        ssm_model, ssm_impl, texts, SSM_NOTES, {}, "crates/trent-ssm/src/tests.rs", PARAMETER_STORE_OPS
    )
    head = f"""# Compatibility

Every operation of the services Trent speaks, from the botocore service models (botocore
{botocore.__version__}), with its status and the tests that prove it. Regenerate with
`.venv/bin/python scripts/gen-compatibility.py`; `crates/trent-kms/src/tests.rs` checks that every
operation the server dispatches is listed here as implemented.

Status: ✅ implemented (behaves as AWS documents, errors included) · ❌ not yet (the request gets
`UnknownOperationException`).

## KMS (`TrentService`, botocore {botocore.__version__} `kms/2014-11-01`, SigV4 service `kms`)

| operation | status | notes | tests |
|---|---|---|---|
"""
    target = os.path.join(REPO, "docs/COMPATIBILITY.md")
    check = "--check" in sys.argv[1:]
    out_path = target + ".check" if check else target
    with open(out_path, "w") as f:
        f.write(head + "\n".join(rows) + "\n")
        f.write(
            f"\n## SSM Parameter Store (`AmazonSSM`, botocore {botocore.__version__} `ssm/2014-11-06`, SigV4 service `ssm`)\n\n"
            "| operation | status | notes | tests |\n|---|---|---|---|\n" + "\n".join(ssm_rows) + "\n\n"
            f"The other {len(ssm_outside)} SSM operations (documents, automation, patching, inventory, "
            "sessions, OpsCenter…) are outside Parameter Store and not planned; they get "
            "`UnknownOperationException`: " + ", ".join(ssm_outside) + ".\n"
        )
        sm_model = botocore.session.get_session().get_service_model("secretsmanager")
        sm_lib = open(os.path.join(REPO, "crates/trent-secrets/src/lib.rs")).read()
        sm_impl = set(re.findall(r"^\s+(\w+) => \w+\b", sm_lib, re.M))
        sm_rows, _ = service_table(sm_model, sm_impl, texts, SM_NOTES, SM_NOT_YET, "crates/trent-secrets/src/tests.rs")
        f.write(
            f"\n## Secrets Manager (`secretsmanager`, botocore {botocore.__version__} `secretsmanager/2017-10-17`, SigV4 service `secretsmanager`)\n\n"
            "| operation | status | notes | tests |\n|---|---|---|---|\n" + "\n".join(sm_rows) + "\n"
        )
        ct_model = botocore.session.get_session().get_service_model("cloudtrail")
        ct_rows, ct_outside = service_table(
            ct_model, {"LookupEvents"}, texts, CLOUDTRAIL_NOTES, {}, "crates/trent-server/src/cloudtrail.rs", {"LookupEvents"}
        )
        f.write(
            f"\n## CloudTrail (`com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`, botocore {botocore.__version__} `cloudtrail/2013-11-01`, "
            "SigV4 service `cloudtrail`)\n\n"
            "Trent's audit trail (every request, allowed, denied or failed, as a CloudTrail-shaped event in hash-chained "
            "files with signed digests; `trent audit verify`) is queried with LookupEvents.\n\n"
            "| operation | status | notes | tests |\n|---|---|---|---|\n" + "\n".join(ct_rows) + "\n\n"
            f"The other {len(ct_outside)} CloudTrail operations (trails, event data stores, Lake queries, channels…) are not "
            "planned; they get `UnknownOperationException`: " + ", ".join(ct_outside) + ".\n"
        )
        iam_lib = open(os.path.join(REPO, "crates/trent-iam/src/lib.rs")).read()
        iam_impl = set(re.findall(r'\("(\w+)", ops::\w+::handle\)', iam_lib))
        for svc, title in [("iam", f"IAM (awsQuery, botocore {botocore.__version__} `iam/2010-05-08`, SigV4 service `iam`)"),
                           ("sts", f"STS (awsQuery, botocore {botocore.__version__} `sts/2011-06-15`, SigV4 service `sts`)")]:
            m = botocore.session.get_session().get_service_model(svc)
            impl = {op for op in iam_impl if op in m.operation_names}
            rows, outside = service_table(m, impl, texts, IAM_NOTES, {}, "crates/trent-iam/src/tests.rs", impl)
            f.write(
                f"\n## {title}\n\n"
                "Users, access keys, roles with trust policies, inline and managed policies, temporary credentials "
                "(see docs/IAM.md).\n\n"
                "| operation | status | notes | tests |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
                f"The other {len(outside)} operations are not served yet; they get an `InvalidAction` error: "
                + ", ".join(outside) + ".\n"
            )
        f.write(FOOT)
    if MISSING_TESTS:
        raise SystemExit("no test calls these served operations: " + ", ".join(MISSING_TESTS))
    if check:
        fresh = open(out_path).read()
        os.remove(out_path)
        if fresh != open(target).read():
            raise SystemExit("docs/COMPATIBILITY.md is stale: run .venv/bin/python scripts/gen-compatibility.py")


if __name__ == "__main__":
    main()
