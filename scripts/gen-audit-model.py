#!/usr/bin/env python3
"""Generates crates/trent-server/src/audit_model.rs: for every operation trentd serves, the
members its input and output may carry (nested structures, lists and maps included), each with a
`sensitive` flag, from botocore's service models (the contract). The audit trail keeps only
members the model declares for the operation and that are not sensitive (audit_event.rs).

A member is sensitive when the model marks it or its shape `"sensitive": true` (or a list/map
whose elements are), or when it is in HAND below: members that carry secrets, ciphertexts or
credentials without that trait.

Usage: scripts/gen-audit-model.py [BOTOCORE_DATA_DIR]
  BOTOCORE_DATA_DIR defaults to the installed botocore's data directory, else /tmp/bc/botocore/data
  (`pip download --no-deps botocore -d /tmp/bc && cd /tmp/bc && unzip -q botocore-*.whl`).
The output depends only on the models and the served-operation tables, so it is deterministic.
"""
import gzip
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "crates/trent-server/src/audit_model.rs")

# (signing name, model directory, api version, where the served operations are listed)
SERVICES = [
    ("cloudtrail", "cloudtrail", "2013-11-01", None),
    ("iam", "iam", "2010-05-08", ("crates/trent-iam/src/lib.rs", "pub const IAM_ACTIONS")),
    ("kms", "kms", "2014-11-01", ("crates/trent-kms/src/lib.rs", "operations!")),
    ("secretsmanager", "secretsmanager", "2017-10-17", ("crates/trent-secrets/src/lib.rs", "operations!")),
    ("ssm", "ssm", "2014-11-06", ("crates/trent-ssm/src/lib.rs", "operations!")),
    ("sts", "sts", "2011-06-15", ("crates/trent-iam/src/lib.rs", "pub const STS_ACTIONS")),
]
CLOUDTRAIL_SERVED = ["LookupEvents"]

# Members (by name, anywhere in the service's shapes) that carry secrets without the model's
# `sensitive` trait: ciphertexts, signed/MACed messages, grant tokens (credentials), import
# material, session credentials.
HAND = {
    "kms": [
        "Ciphertext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "EncryptedKeyMaterial",
        "GrantToken",
        "GrantTokens",
        "ImportToken",
        "KeyMaterial",
        "Mac",
        "Message",
        "PrivateKeyCiphertextBlob",
        "PrivateKeyPlaintext",
        "PublicKey",
        "Recipient",
        "SharedSecret",
        "Signature",
        "SourceCiphertextBlob",
    ],
    "ssm": ["SessionToken"],
    "secretsmanager": ["SecretString", "SecretBinary", "SecretValues", "RandomPassword"],
    "iam": ["Password", "NewPassword", "OldPassword", "SecretAccessKey", "PrivateKey", "AccessKey"],
    "sts": ["Credentials", "SecretAccessKey", "SessionToken", "TokenCode", "SAMLAssertion", "WebIdentityToken"],
    "cloudtrail": [],
}


def served(sig, spec):
    if spec is None:
        return list(CLOUDTRAIL_SERVED)
    path, marker = spec
    text = open(os.path.join(REPO, path)).read()
    if marker == "operations!":
        start = text.index("operations!(")
        block = text[start : text.index("});", start)]
        return sorted(set(re.findall(r"^\s*([A-Z][A-Za-z0-9]*)\s*=>", block, re.M)))
    start = text.index(marker)
    block = text[start : text.index("];", start)]
    return sorted(set(re.findall(r'\("([A-Z][A-Za-z0-9]*)",', block)))


def load(data, model, version):
    base = os.path.join(data, model, version)
    for name in ("service-2.json", "service-2.json.gz"):
        p = os.path.join(base, name)
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rt", encoding="utf-8") as f:
                return json.load(f)
    sys.exit(f"no service-2.json under {base}")


class Table:
    def __init__(self):
        self.shapes = ["Shape::Scalar"]  # index 0: every scalar
        self.index = {}

    def shape(self, sig, model, name):
        """Index of the table entry for model shape `name` (structures, lists and maps get one each)."""
        s = model["shapes"][name]
        t = s["type"]
        if t not in ("structure", "list", "map"):
            return 0
        key = (sig, name)
        if key in self.index:
            return self.index[key]
        i = len(self.shapes)
        self.index[key] = i
        self.shapes.append(None)  # reserved: shapes may be recursive
        if t == "structure":
            members = []
            for m in sorted(s.get("members", {})):
                md = s["members"][m]
                target = md["shape"]
                members.append((m, self.shape(sig, model, target), is_sensitive(sig, model, m, md)))
            body = ", ".join(f'Member {{ name: "{m}", shape: {j}, sensitive: {str(x).lower()} }}' for m, j, x in members)
            self.shapes[i] = f"Shape::Structure(&[{body}])"
        elif t == "list":
            self.shapes[i] = f"Shape::List({self.shape(sig, model, s['member']['shape'])})"
        else:
            self.shapes[i] = f"Shape::Map({self.shape(sig, model, s['value']['shape'])})"
        return i


def shape_sensitive(model, name, seen=()):
    s = model["shapes"][name]
    if s.get("sensitive"):
        return True
    if name in seen:
        return False
    if s["type"] == "list":
        return shape_sensitive(model, s["member"]["shape"], seen + (name,))
    if s["type"] == "map":
        return shape_sensitive(model, s["value"]["shape"], seen + (name,))
    return False


def is_sensitive(sig, model, member, md):
    return bool(md.get("sensitive")) or shape_sensitive(model, md["shape"]) or member in HAND[sig]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else None
    if data is None:
        try:
            import botocore

            data = os.path.join(os.path.dirname(botocore.__file__), "data")
        except ImportError:
            data = "/tmp/bc/botocore/data"
    version_file = os.path.join(os.path.dirname(os.path.abspath(data)), "__init__.py")
    botocore_version = "unknown"
    if os.path.exists(version_file):
        m = re.search(r"__version__ = '([^']+)'", open(version_file).read())
        botocore_version = m.group(1) if m else botocore_version
    table = Table()
    ops = []
    versions = []
    for sig, model_dir, version, spec in SERVICES:
        model = load(data, model_dir, version)
        versions.append(f"{model_dir} {version}")
        for op in served(sig, spec):
            if op not in model["operations"]:
                sys.exit(f"{sig}: {op} is served but not in the model")
            o = model["operations"][op]
            inp = table.shape(sig, model, o["input"]["shape"]) if "input" in o else None
            out = table.shape(sig, model, o["output"]["shape"]) if "output" in o else None
            ops.append((sig, op, inp, out))
    ops.sort()
    opt = lambda x: "None" if x is None else f"Some({x})"
    lines = [
        f"// @generated by scripts/gen-audit-model.py from botocore {botocore_version}'s service models",
        f"// ({', '.join(versions)}). Do not edit: change the script and run it again.",
        "//! Which members each served operation's input and output may carry, and which are sensitive.",
        "",
        "/// A node of an operation's input or output.",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
        "pub enum Shape {",
        "    /// A string, number, boolean, timestamp or blob.",
        "    Scalar,",
        "    /// An object with exactly these members (sorted by name).",
        "    Structure(&'static [Member]),",
        "    /// An array whose elements are `SHAPES[i]`.",
        "    List(usize),",
        "    /// An object whose values are `SHAPES[i]` (keys are the caller's).",
        "    Map(usize),",
        "}",
        "",
        "/// One member of a structure: its wire name, its shape (`SHAPES` index), whether it may carry a secret.",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
        "pub struct Member {",
        "    pub name: &'static str,",
        "    pub shape: usize,",
        "    pub sensitive: bool,",
        "}",
        "",
        "/// An operation (`service` is its signing name) and its input and output shapes.",
        "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
        "pub struct Operation {",
        "    pub service: &'static str,",
        "    pub name: &'static str,",
        "    pub input: Option<usize>,",
        "    pub output: Option<usize>,",
        "}",
        "",
        "/// Sorted by (service, name).",
        "pub static OPERATIONS: &[Operation] = &[",
    ]
    for sig, op, inp, out in ops:
        lines.append(f'    Operation {{ service: "{sig}", name: "{op}", input: {opt(inp)}, output: {opt(out)} }},')
    lines.append("];")
    lines.append("")
    lines.append("pub static SHAPES: &[Shape] = &[")
    for i, s in enumerate(table.shapes):
        lines.append(f"    /* {i} */ {s},")
    lines.append("];")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{OUT}: {len(ops)} operations, {len(table.shapes)} shapes")


if __name__ == "__main__":
    main()
