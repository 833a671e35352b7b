// The AWS SDK for JavaScript v3 against trentd (a signer and client independent of botocore).
// Usage: node smoke.mjs <base URL>. Prints "ok <n> checks" and exits 0, or throws.
import { KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand, GenerateDataKeyCommand,
  SignCommand, VerifyCommand, DescribeKeyCommand } from "@aws-sdk/client-kms";
import { SSMClient, PutParameterCommand, GetParameterCommand, GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { SecretsManagerClient, CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import assert from "node:assert/strict";

const endpoint = process.argv[2];
const config = {
  endpoint,
  region: "eu-central-1",
  credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  maxAttempts: 1,
};
const kms = new KMSClient(config);
const ssm = new SSMClient(config);
const sm = new SecretsManagerClient(config);
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };
const run = `js-${Date.now()}`;

const key = (await kms.send(new CreateKeyCommand({ Description: "js sdk" }))).KeyMetadata;
check(key.Arn.startsWith("arn:aws:kms:eu-central-1:000000000000:key/"), "key ARN");
const ct = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from("from javascript"),
  EncryptionContext: { sdk: "js-v3" } }));
const pt = await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, EncryptionContext: { sdk: "js-v3" } }));
check(Buffer.from(pt.Plaintext).toString() === "from javascript", "decrypt round trip");
const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: "AES_256" }));
check(dk.Plaintext.length === 32, "data key size");
const signer = (await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }))).KeyMetadata;
const sig = await kms.send(new SignCommand({ KeyId: signer.KeyId, Message: Buffer.from("m"), SigningAlgorithm: "ECDSA_SHA_256" }));
const ver = await kms.send(new VerifyCommand({ KeyId: signer.KeyId, Message: Buffer.from("m"), Signature: sig.Signature,
  SigningAlgorithm: "ECDSA_SHA_256" }));
check(ver.SignatureValid === true, "verify");
try {
  await kms.send(new DescribeKeyCommand({ KeyId: "alias/js-nope" }));
  check(false, "missing alias must fail");
} catch (e) {
  check(e.name === "NotFoundException", `NotFoundException, got ${e.name}`);
}

await ssm.send(new PutParameterCommand({ Name: `/${run}/db/password`, Type: "SecureString", Value: "js-secret" }));
await ssm.send(new PutParameterCommand({ Name: `/${run}/db/host`, Type: "String", Value: "db.internal" }));
const p = await ssm.send(new GetParameterCommand({ Name: `/${run}/db/password`, WithDecryption: true }));
check(p.Parameter.Value === "js-secret", "SecureString decrypts");
const tree = await ssm.send(new GetParametersByPathCommand({ Path: `/${run}`, Recursive: true, WithDecryption: true }));
check(tree.Parameters.length === 2, "path query");

const created = await sm.send(new CreateSecretCommand({ Name: `${run}/api`, SecretString: "v1" }));
await sm.send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: "v2" }));
const cur = await sm.send(new GetSecretValueCommand({ SecretId: `${run}/api` }));
const prev = await sm.send(new GetSecretValueCommand({ SecretId: `${run}/api`, VersionStage: "AWSPREVIOUS" }));
check(cur.SecretString === "v2" && prev.SecretString === "v1", "version stages");

console.log(`ok ${checks} checks`);
