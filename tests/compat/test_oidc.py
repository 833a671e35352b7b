"""Workload identity: IAM OpenID Connect providers and STS AssumeRoleWithWebIdentity, with a
local OIDC issuer (discovery document + JWKS served on loopback, ID tokens signed with
`cryptography`), and unchanged boto3 / AWS CLI using AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN.
Also STS GetSessionToken."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, REGION, error_code, error_message

AUDIENCE = "sts.amazonaws.com"
SUBJECT = "system:serviceaccount:prod:payments"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_b64u(n: int, length: int | None = None) -> str:
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


class Issuer:
    """An OpenID Connect issuer on 127.0.0.1: discovery, a JWKS, and tokens it signs."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.keys = {"rsa1": self.rsa, "ec1": self.ec}
        self.published = ["rsa1", "ec1"]
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys",
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == "/keys":
                    issuer.jwks_fetches += 1
                    body = issuer.jwks()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("cache-control", "max-age=300")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.host = self.url.removeprefix("http://")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def jwks(self) -> dict:
        out = []
        for kid in self.published:
            k = self.keys[kid]
            if isinstance(k, rsa.RSAPrivateKey):
                n = k.public_key().public_numbers()
                out.append({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": int_b64u(n.n), "e": int_b64u(n.e)})
            else:
                n = k.public_key().public_numbers()
                out.append({"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
                            "x": int_b64u(n.x, 32), "y": int_b64u(n.y, 32)})
        return {"keys": out}

    def token(self, kid: str = "rsa1", key=None, alg: str | None = None, **claims) -> str:
        key = key or self.keys[kid]
        now = int(time.time())
        body = {"iss": self.url, "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        header = {"alg": alg, "kid": kid, "typ": "JWT"}
        signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(body).encode())}".encode()
        if alg == "none":
            return signing_input.decode() + "."
        if isinstance(key, rsa.RSAPrivateKey):
            sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode() + "." + b64u(sig)

    def close(self):
        self.server.shutdown()


def admin(service: str, base_url: str):
    return boto3.session.Session().client(
        service, endpoint_url=base_url, region_name=REGION, aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY, config=Config(retries={"max_attempts": 1}),
    )


def unsigned_sts(base_url: str):
    return boto3.session.Session().client(
        "sts", endpoint_url=base_url, region_name=REGION,
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.close()


@pytest.fixture(scope="module")
def setup(trent, issuer):
    """A provider for the issuer and a role that trusts its tokens for one subject."""
    iam = admin("iam", trent.base_url)
    provider_arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUDIENCE])[
        "OpenIDConnectProviderArn"]
    role = f"workload-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer.host}:sub": SUBJECT, f"{issuer.host}:aud": AUDIENCE}},
    }]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["kms:CreateKey", "kms:ListKeys", "kms:Encrypt", "kms:Decrypt"],
                       "Resource": "*"}]}))
    return {"provider_arn": provider_arn, "role": role, "role_arn": role_arn}


def assume(base_url, role_arn, token, **kw):
    return unsigned_sts(base_url).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="pod-1", WebIdentityToken=token, **kw)


def expect(code, fn, *a, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*a, **kw)
    assert error_code(e) == code, e.value.response
    return e


# -- IAM OpenID Connect providers ---------------------------------------------------------


def test_provider_create_get_list_update_delete(trent):
    iam = admin("iam", trent.base_url)
    url = f"https://oidc-{uuid.uuid4().hex[:8]}.example.com/id/ABC"
    arn = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=["a", "b"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
        Tags=[{"Key": "team", "Value": "infra"}])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{url.removeprefix('https://')}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == url.removeprefix("https://")
    assert got["ClientIDList"] == ["a", "b"]
    assert got["ThumbprintList"] == ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    assert got["Tags"] == [{"Key": "team", "Value": "infra"}]
    assert "CreateDate" in got
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="a")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="absent")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["b", "c"]
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=["0" * 40, "f" * 40])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == ["0" * 40, "f" * 40]

    expect("EntityAlreadyExists", iam.create_open_id_connect_provider, Url=url, ClientIDList=["x"])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    expect("NoSuchEntity", iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    expect("NoSuchEntity", iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    assert arn not in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def test_provider_inputs_are_checked(trent):
    iam = admin("iam", trent.base_url)
    # Plain http only for loopback issuers; other schemes never.
    expect("InvalidInput", iam.create_open_id_connect_provider, Url="http://issuer.example.com")
    expect("InvalidInput", iam.create_open_id_connect_provider, Url="ftp://issuer.example.com")
    expect("InvalidInput", iam.create_open_id_connect_provider, Url="https://issuer.example.com/?q=1")
    expect("ValidationError", iam.create_open_id_connect_provider,
           Url="https://issuer.example.com", ThumbprintList=["abc" * 20])
    expect("LimitExceeded", iam.create_open_id_connect_provider,
           Url="https://issuer.example.com", ThumbprintList=["0" * 40] * 6)
    expect("InvalidInput", iam.get_open_id_connect_provider, OpenIDConnectProviderArn="arn:aws:iam::000000000000:role/x")
    expect("NoSuchEntity", iam.get_open_id_connect_provider,
           OpenIDConnectProviderArn="arn:aws:iam::111122223333:oidc-provider/other.example.com")


def test_provider_actions_need_iam_permissions(trent):
    iam = admin("iam", trent.base_url)
    user = f"nooidc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = boto3.session.Session().client(
        "iam", endpoint_url=trent.base_url, region_name=REGION, aws_access_key_id=k["AccessKeyId"],
        aws_secret_access_key=k["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))
    expect("AccessDenied", theirs.create_open_id_connect_provider, Url="https://denied.example.com")
    expect("AccessDenied", theirs.list_open_id_connect_providers)


# -- AssumeRoleWithWebIdentity ------------------------------------------------------------


def test_valid_rs256_and_es256_tokens_get_working_credentials(trent, issuer, setup):
    for kid in ("rsa1", "ec1"):
        out = assume(trent.base_url, setup["role_arn"], issuer.token(kid))
        assert out["SubjectFromWebIdentityToken"] == SUBJECT
        assert out["Provider"] == setup["provider_arn"]
        assert out["Audience"] == AUDIENCE
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{setup['role']}/pod-1"
        c = out["Credentials"]
        assert c["AccessKeyId"].startswith("ASIA")
        session = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                                        aws_session_token=c["SessionToken"], region_name=REGION)
        who = session.client("sts", endpoint_url=trent.base_url).get_caller_identity()
        assert who["Arn"] == out["AssumedRoleUser"]["Arn"]
        kms = session.client("kms", endpoint_url=trent.base_url)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key, Plaintext=b"hi")["CiphertextBlob"])["Plaintext"] == b"hi"
        # The role's policy still bounds the session.
        expect("AccessDeniedException", kms.schedule_key_deletion, KeyId=key)


def test_unchanged_boto3_and_aws_cli_use_the_web_identity_token_file(trent, issuer, setup, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token("rsa1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": setup["role_arn"],
        "AWS_ROLE_SESSION_NAME": "k8s-pod", "AWS_ENDPOINT_URL": trent.base_url, "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
    })
    script = (
        "import boto3\n"
        "print(boto3.client('sts').get_caller_identity()['Arn'])\n"
        "print(len(boto3.client('kms').list_keys()['Keys']) >= 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{setup['role']}/k8s-pod", "True"]
    cli = subprocess.run([os.path.join(os.path.dirname(sys.executable), "aws"), "sts", "get-caller-identity",
                          "--query", "Arn", "--output", "text"], env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{setup['role']}/k8s-pod"


def test_wrong_audience_subject_expiry_key_and_algorithm_are_refused(trent, issuer, setup):
    role = setup["role_arn"]
    e = expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token(aud="someone-else"))
    assert "audience" in error_message(e)
    e = expect("AccessDenied", assume, trent.base_url, role, issuer.token(sub="system:serviceaccount:dev:other"))
    assert "Not authorized to perform sts:AssumeRoleWithWebIdentity" in error_message(e)
    now = int(time.time())
    e = expect("ExpiredTokenException", assume, trent.base_url, role, issuer.token(iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    assert "expired" in error_message(e).lower()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token("rsa1", key=stranger))
    expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token(alg="none"))
    expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token(alg="HS256", key=issuer.rsa))
    expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token(iss="https://unknown-issuer.example.com"))
    expect("InvalidIdentityToken", assume, trent.base_url, role, "not.a.jwt")
    expect("InvalidIdentityToken", assume, trent.base_url, role, issuer.token(nbf=now + 3600))
    expect("IDPRejectedClaim", assume, trent.base_url, role, issuer.token(sub=None))
    # A role that does not exist, and one that trusts no web identity: the same AccessDenied.
    expect("AccessDenied", assume, trent.base_url, f"arn:aws:iam::{ACCOUNT_ID}:role/no-such-role", issuer.token())
    # A signed token's claims cannot be changed.
    head, body, sig = issuer.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "system:serviceaccount:prod:admin"
    forged = ".".join([head, b64u(json.dumps(claims).encode()), sig])
    expect("InvalidIdentityToken", assume, trent.base_url, role, forged)


def test_unknown_key_id_refetches_the_key_set_at_most_every_5_seconds(trent_factory, issuer):
    srv = trent_factory()
    iam = admin("iam", srv.base_url)
    arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUDIENCE])["OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                                                     "Action": "sts:AssumeRoleWithWebIdentity"}]}
    role_arn = iam.create_role(RoleName="rotating", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    before = issuer.jwks_fetches
    assume(srv.base_url, role_arn, issuer.token("rsa1"))
    assume(srv.base_url, role_arn, issuer.token("ec1"))
    assert issuer.jwks_fetches == before + 1  # cached
    # A key id the issuer has not published: refused; right after a fetch, no new fetch.
    issuer.keys["rsa-next"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = expect("InvalidIdentityToken", assume, srv.base_url, role_arn, issuer.token("rsa-next"))
    assert "key id" in error_message(e)
    assert issuer.jwks_fetches == before + 1
    # The issuer rotates: once the refetch interval has passed, the unknown kid makes trentd
    # fetch the key set again, and the new key is accepted.
    issuer.published.append("rsa-next")
    time.sleep(5.5)
    assume(srv.base_url, role_arn, issuer.token("rsa-next"))
    assert issuer.jwks_fetches == before + 2
    assume(srv.base_url, role_arn, issuer.token("rsa-next"))
    assert issuer.jwks_fetches == before + 2


def test_deleted_provider_tokens_are_refused(trent_factory, issuer):
    srv = trent_factory()
    iam = admin("iam", srv.base_url)
    arn = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUDIENCE])["OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                                                     "Action": "sts:AssumeRoleWithWebIdentity"}]}
    role_arn = iam.create_role(RoleName="any-sub", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assume(srv.base_url, role_arn, issuer.token("ec1", sub="anyone-at-all"))
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=AUDIENCE)
    expect("InvalidIdentityToken", assume, srv.base_url, role_arn, issuer.token("ec1"))
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=AUDIENCE)
    assume(srv.base_url, role_arn, issuer.token("ec1"))
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    e = expect("InvalidIdentityToken", assume, srv.base_url, role_arn, issuer.token("ec1"))
    assert "No OpenIDConnect provider found" in error_message(e)
    # The token never reaches the audit trail.
    trail = "".join(p.read_text() for p in (srv.data_dir / "audit").glob("*") if p.is_file())
    assert "AssumeRoleWithWebIdentity" in trail
    assert issuer.token("ec1").split(".")[0] not in trail


# -- GetSessionToken ----------------------------------------------------------------------


def test_get_session_token_for_a_user_and_not_for_a_role_session(trent, issuer, setup):
    iam = admin("iam", trent.base_url)
    user = f"sess-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    sts = boto3.session.Session().client("sts", endpoint_url=trent.base_url, region_name=REGION,
                                         aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
    c = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    s = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                              aws_session_token=c["SessionToken"], region_name=REGION)
    assert s.client("sts", endpoint_url=trent.base_url).get_caller_identity()["Arn"].endswith(f":user/{user}")
    s.client("kms", endpoint_url=trent.base_url).list_keys()
    expect("AccessDeniedException", s.client("kms", endpoint_url=trent.base_url).create_key)
    expect("ValidationError", sts.get_session_token, DurationSeconds=129601)
    expect("AccessDenied", sts.get_session_token, SerialNumber="arn:aws:iam::000000000000:mfa/x", TokenCode="123456")
    # Role sessions cannot.
    rc = assume(trent.base_url, setup["role_arn"], issuer.token())["Credentials"]
    role_sts = boto3.session.Session().client(
        "sts", endpoint_url=trent.base_url, region_name=REGION, aws_access_key_id=rc["AccessKeyId"],
        aws_secret_access_key=rc["SecretAccessKey"], aws_session_token=rc["SessionToken"])
    expect("AccessDenied", role_sts.get_session_token)
