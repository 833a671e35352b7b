//! Trent's developer tasks.
//!
//! `cargo run -p xtask -- gen-wire [--check] [--botocore DIR]` reads botocore's service models
//! (kms, ssm, secretsmanager, cloudtrail, iam, sts) and writes `crates/trent-wire/src/generated/`:
//! per service, every served operation's input and output shapes with every constraint (required,
//! length, pattern, range, enum, list and map size, nested structures), the enums as Rust enums
//! and the members that carry secrets. `--check` writes nothing and exits 1 when the committed
//! files differ from what the models give (CI runs it: `tests/compat/test_generated_wire.py`).
//!
//! The botocore used must be the release pinned in `tests/compat/requirements.txt` (the compat
//! venv's), so that the output is the same on every machine. `DIR` is botocore's package
//! directory (the one with `data/` and `__init__.py`); without `--botocore` it is `$TRENT_BOTOCORE`,
//! then `<repo>/.venv`'s, then the one `python3` imports.
#![forbid(unsafe_code)]

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The services, their model directories and API versions, and which operations are generated.
const SERVICES: &[(&str, &str, Served)] = &[
    ("cloudtrail", "2013-11-01", Served::List(&["LookupEvents"])),
    ("iam", "2010-05-08", Served::Table("crates/trent-iam/src/lib.rs", "pub const IAM_ACTIONS")),
    ("kms", "2014-11-01", Served::All),
    ("secretsmanager", "2017-10-17", Served::All),
    ("ssm", "2014-11-06", Served::TablePlus("crates/trent-ssm/src/lib.rs", "operations!(", SSM_PARAMETER_STORE)),
    ("sts", "2011-06-15", Served::Table("crates/trent-iam/src/lib.rs", "pub const STS_ACTIONS")),
];

/// Parameter Store operations generated even before Trent serves them (SSM's model has ~150
/// operations; only Parameter Store's are in scope).
const SSM_PARAMETER_STORE: &[&str] = &[
    "DeleteResourcePolicy",
    "GetResourcePolicies",
    "GetServiceSetting",
    "PutResourcePolicy",
    "ResetServiceSetting",
    "UpdateServiceSetting",
];

/// Members (by name, anywhere in the service's shapes) that carry secrets without the model's
/// `sensitive` trait: ciphertexts, signed messages, tokens and credentials. Kept in step with
/// `scripts/gen-audit-model.py`.
const HAND_SENSITIVE: &[(&str, &[&str])] = &[
    (
        "kms",
        &[
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
    ),
    ("ssm", &["SessionToken"]),
    ("secretsmanager", &["SecretString", "SecretBinary", "SecretValues", "RandomPassword"]),
    ("iam", &["Password", "NewPassword", "OldPassword", "SecretAccessKey", "PrivateKey", "AccessKey"]),
    ("sts", &["Credentials", "SecretAccessKey", "SessionToken", "TokenCode", "SAMLAssertion", "WebIdentityToken"]),
    ("cloudtrail", &[]),
];

const OUT_DIR: &str = "crates/trent-wire/src/generated";

enum Served {
    All,
    List(&'static [&'static str]),
    /// Rows of a Rust table: (file, the text that starts it).
    Table(&'static str, &'static str),
    TablePlus(&'static str, &'static str, &'static [&'static str]),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: cargo run -p xtask -- gen-wire [--check] [--botocore DIR] [--allow-other-botocore]";

fn run(args: &[String]) -> Result<ExitCode, String> {
    let Some(cmd) = args.first() else { return Err(USAGE.into()) };
    if cmd != "gen-wire" {
        return Err(format!("unknown task {cmd:?}\n{USAGE}"));
    }
    let mut check = false;
    let mut botocore = None;
    let mut allow_other = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--allow-other-botocore" => allow_other = true,
            "--botocore" => botocore = Some(PathBuf::from(it.next().ok_or("--botocore needs a directory")?)),
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    let repo = repo_root();
    let botocore = match botocore {
        Some(b) => b,
        None => find_botocore(&repo)?,
    };
    let (data, version) = botocore_layout(&botocore)?;
    let pinned = pinned_botocore(&repo)?;
    if version != pinned && !allow_other {
        return Err(format!(
            "botocore {version} at {} is not the pinned {pinned} (tests/compat/requirements.txt); \
             use the compat venv's botocore, or --allow-other-botocore",
            botocore.display()
        ));
    }
    let files = generate(&repo, &data, &version)?;
    let out = repo.join(OUT_DIR);
    if check {
        let mut stale = Vec::new();
        for (name, text) in &files {
            let on_disk = std::fs::read_to_string(out.join(name)).unwrap_or_default();
            if &on_disk != text {
                stale.push(name.clone());
            }
        }
        if let Ok(dir) = std::fs::read_dir(&out) {
            for e in dir.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if !files.contains_key(&n) {
                    stale.push(format!("{n} (not generated)"));
                }
            }
        }
        if stale.is_empty() {
            println!("{OUT_DIR}: up to date with botocore {version}");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "{OUT_DIR} is stale (botocore {version}): {}\nrun `cargo run -p xtask -- gen-wire` and commit the result",
            stale.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, text) in &files {
        std::fs::write(out.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    println!("{OUT_DIR}: {} files from botocore {version}", files.len());
    Ok(ExitCode::SUCCESS)
}

fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

fn find_botocore(repo: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("TRENT_BOTOCORE") {
        return Ok(PathBuf::from(p));
    }
    if let Ok(libs) = std::fs::read_dir(repo.join(".venv/lib")) {
        for e in libs.flatten() {
            let p = e.path().join("site-packages/botocore");
            if p.join("data").is_dir() {
                return Ok(p);
            }
        }
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import botocore, os; print(os.path.dirname(botocore.__file__))"])
        .output()
        .map_err(|e| format!("no --botocore given and python3 failed: {e}"))?;
    if !out.status.success() {
        return Err("no --botocore given, no <repo>/.venv, and python3 cannot import botocore".into());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// (the data directory, botocore's version) from the package directory or its `data/`.
fn botocore_layout(dir: &Path) -> Result<(PathBuf, String), String> {
    let pkg = if dir.join("data").is_dir() { dir.to_path_buf() } else { dir.parent().unwrap_or(dir).to_path_buf() };
    let init = std::fs::read_to_string(pkg.join("__init__.py"))
        .map_err(|e| format!("{}: not botocore's package directory: {e}", pkg.display()))?;
    let version = init
        .lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .ok_or("no __version__ in botocore/__init__.py")?;
    Ok((pkg.join("data"), version))
}

fn pinned_botocore(repo: &Path) -> Result<String, String> {
    let req = std::fs::read_to_string(repo.join("tests/compat/requirements.txt")).map_err(|e| e.to_string())?;
    req.lines()
        .find_map(|l| l.trim().strip_prefix("botocore=="))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| "tests/compat/requirements.txt pins no botocore".into())
}

// ---- the model ----

#[derive(Deserialize)]
struct Model {
    operations: BTreeMap<String, OpDef>,
    shapes: BTreeMap<String, ShapeDef>,
}

#[derive(Deserialize)]
struct OpDef {
    input: Option<Ref>,
    output: Option<Ref>,
}

#[derive(Deserialize)]
struct Ref {
    shape: String,
}

#[derive(Deserialize)]
struct ShapeDef {
    #[serde(rename = "type")]
    ty: String,
    members: Option<Ordered<MemberDef>>,
    member: Option<Ref>,
    key: Option<Ref>,
    value: Option<Ref>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    required: Option<Vec<String>>,
    sensitive: Option<bool>,
}

#[derive(Deserialize)]
struct MemberDef {
    shape: String,
    sensitive: Option<bool>,
}

/// A JSON object's entries in the file's order (structure members keep the model's order).
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn load(data: &Path, name: &str, version: &str) -> Result<Model, String> {
    let base = data.join(name).join(version);
    let plain = base.join("service-2.json");
    let text = if plain.exists() {
        std::fs::read_to_string(&plain).map_err(|e| format!("{}: {e}", plain.display()))?
    } else {
        let gz = base.join("service-2.json.gz");
        let f = std::fs::File::open(&gz).map_err(|e| format!("{}: {e}", gz.display()))?;
        let mut s = String::new();
        flate2::read::GzDecoder::new(f).read_to_string(&mut s).map_err(|e| format!("{}: {e}", gz.display()))?;
        s
    };
    serde_json::from_str(&text).map_err(|e| format!("{name} {version}: {e}"))
}

fn served_ops(repo: &Path, model: &Model, served: &Served) -> Result<Vec<String>, String> {
    let from_table = |file: &str, start: &str| -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(repo.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let at = text.find(start).ok_or_else(|| format!("{file}: no {start}"))?;
        let rest = &text[at..];
        let (end, row) = if start == "operations!(" {
            (rest.find("});").unwrap_or(rest.len()), regex::Regex::new(r"(?m)^\s*([A-Z][A-Za-z0-9]*)\s*=>"))
        } else {
            (rest.find("];").unwrap_or(rest.len()), regex::Regex::new(r#"\("([A-Z][A-Za-z0-9]*)","#))
        };
        let row = row.map_err(|e| e.to_string())?;
        Ok(row.captures_iter(&rest[..end]).map(|c| c[1].to_string()).collect())
    };
    let ops: BTreeSet<String> = match served {
        Served::All => model.operations.keys().cloned().collect(),
        Served::List(l) => l.iter().map(|s| s.to_string()).collect(),
        Served::Table(f, s) => from_table(f, s)?.into_iter().collect(),
        Served::TablePlus(f, s, extra) => {
            from_table(f, s)?.into_iter().chain(extra.iter().map(|s| s.to_string())).collect()
        }
    };
    for op in &ops {
        if !model.operations.contains_key(op) {
            return Err(format!("{op} is served but not in the model"));
        }
    }
    Ok(ops.into_iter().collect())
}

// ---- generation ----

struct Gen<'a> {
    model: &'a Model,
    hand: &'a [&'a str],
    index: HashMap<String, usize>,
    order: Vec<String>,
    patterns: Vec<String>,
}

impl Gen<'_> {
    fn shape(&mut self, name: &str) -> Result<usize, String> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        let s = self.model.shapes.get(name).ok_or_else(|| format!("no shape {name}"))?;
        let i = self.order.len();
        self.index.insert(name.to_string(), i);
        self.order.push(name.to_string());
        if let Some(p) = &s.pattern {
            if !self.patterns.contains(p) {
                self.patterns.push(p.clone());
            }
        }
        if let Some(members) = &s.members {
            for (_, m) in &members.0 {
                self.shape(&m.shape)?;
            }
        }
        for r in [&s.member, &s.key, &s.value].into_iter().flatten() {
            self.shape(&r.shape)?;
        }
        Ok(i)
    }

    /// Whether a value of this shape may carry a secret.
    fn carries_secret(&self, name: &str, seen: &mut Vec<String>) -> bool {
        if seen.iter().any(|s| s == name) {
            return false;
        }
        seen.push(name.to_string());
        let Some(s) = self.model.shapes.get(name) else { return false };
        if s.sensitive == Some(true) {
            return true;
        }
        if let Some(members) = &s.members {
            for (mname, m) in &members.0 {
                if m.sensitive == Some(true)
                    || self.hand.contains(&mname.as_str())
                    || self.carries_secret(&m.shape, seen)
                {
                    return true;
                }
            }
        }
        [&s.member, &s.key, &s.value].into_iter().flatten().any(|r| self.carries_secret(&r.shape, seen))
    }

    fn member_sensitive(&self, name: &str, m: &MemberDef) -> bool {
        m.sensitive == Some(true) || self.hand.contains(&name) || self.carries_secret(&m.shape, &mut Vec::new())
    }

    /// The wire names of the sensitive members reachable from `shape`.
    fn sensitive_names(&self, shape: &str, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
        if !seen.insert(shape.to_string()) {
            return;
        }
        let Some(s) = self.model.shapes.get(shape) else { return };
        if let Some(members) = &s.members {
            for (mname, m) in &members.0 {
                if m.sensitive == Some(true) || self.hand.contains(&mname.as_str()) || self.shape_sensitive(&m.shape) {
                    out.insert(mname.clone());
                }
                self.sensitive_names(&m.shape, seen, out);
            }
        }
        for r in [&s.member, &s.key, &s.value].into_iter().flatten() {
            self.sensitive_names(&r.shape, seen, out);
        }
    }

    /// The model's own `sensitive` trait on a shape (or the elements of a list or map).
    fn shape_sensitive(&self, name: &str) -> bool {
        let Some(s) = self.model.shapes.get(name) else { return false };
        s.sensitive == Some(true)
            || s.member
                .as_ref()
                .is_some_and(|r| self.model.shapes.get(&r.shape).is_some_and(|e| e.sensitive == Some(true)))
            || s.value
                .as_ref()
                .is_some_and(|r| self.model.shapes.get(&r.shape).is_some_and(|e| e.sensitive == Some(true)))
    }
}

fn generate(repo: &Path, data: &Path, botocore: &str) -> Result<BTreeMap<String, String>, String> {
    let mut files = BTreeMap::new();
    let mut mods = Vec::new();
    for (name, version, served) in SERVICES {
        let model = load(data, name, version)?;
        let ops = served_ops(repo, &model, served).map_err(|e| format!("{name}: {e}"))?;
        let hand = HAND_SENSITIVE.iter().find(|(s, _)| s == name).map(|(_, h)| *h).unwrap_or(&[]);
        let text = service_file(&model, name, version, botocore, &ops, hand)?;
        let module = name.to_string();
        files.insert(format!("{module}.rs"), text);
        mods.push((module, *version, ops.len()));
    }
    let mut m = String::new();
    let _ = writeln!(m, "// @generated by `cargo run -p xtask -- gen-wire` from botocore {botocore}. Do not edit.");
    m.push_str(
        "//! The wire contract of each served service, generated from botocore's models (see `crate::model`).\n\n",
    );
    for (module, version, n) in &mods {
        let _ = writeln!(m, "/// `{module}` {version}: {n} operations.");
        let _ = writeln!(m, "#[rustfmt::skip]\npub mod {module};");
    }
    m.push_str("\n/// The botocore release the models were read from.\n");
    let _ = writeln!(m, "pub const BOTOCORE_VERSION: &str = {botocore:?};");
    m.push_str("\n/// Every service, by its model name.\npub static SERVICES: &[&crate::model::Service] = &[\n");
    for (module, _, _) in &mods {
        let _ = writeln!(m, "    &{module}::SERVICE,");
    }
    m.push_str("];\n");
    files.insert("mod.rs".into(), m);
    Ok(files)
}

fn service_file(
    model: &Model,
    name: &str,
    version: &str,
    botocore: &str,
    ops: &[String],
    hand: &[&str],
) -> Result<String, String> {
    let mut g = Gen { model, hand, index: HashMap::new(), order: Vec::new(), patterns: Vec::new() };
    let mut rows = Vec::new();
    for op in ops {
        let def = &model.operations[op];
        let input = def.input.as_ref().map(|r| g.shape(&r.shape)).transpose()?;
        let output = def.output.as_ref().map(|r| g.shape(&r.shape)).transpose()?;
        let mut sensitive = BTreeSet::new();
        for r in [&def.input, &def.output].into_iter().flatten() {
            g.sensitive_names(&r.shape, &mut BTreeSet::new(), &mut sensitive);
        }
        rows.push((op.clone(), input, output, sensitive));
    }
    if g.order.len() > usize::from(u16::MAX) {
        return Err(format!("{name}: too many shapes"));
    }
    // Enums: every reachable string shape with an enum trait.
    let mut enums = BTreeMap::new();
    for shape in &g.order {
        let s = &model.shapes[shape];
        if let (Some(values), "string") = (&s.enum_values, s.ty.as_str()) {
            enums.insert(shape.clone(), enum_type(shape, values)?);
        }
    }

    let mut o = String::new();
    let _ = writeln!(
        o,
        "// @generated by `cargo run -p xtask -- gen-wire` from botocore {botocore} ({name} {version}). Do not edit."
    );
    let _ = writeln!(
        o,
        "//! `{name}` {version}: {} operations, {} shapes, {} enums.",
        rows.len(),
        g.order.len(),
        enums.len()
    );
    o.push_str("#![allow(clippy::all)]\n\n");
    o.push_str("use crate::model::{Kind, Member, Operation, Service, Shape};\n\n");
    let _ = writeln!(
        o,
        "pub static SERVICE: Service = Service {{ name: {name:?}, api_version: {version:?}, botocore_version: {botocore:?}, operations: OPERATIONS, shapes: SHAPES, patterns: PATTERNS, compiled: std::sync::OnceLock::new() }};\n"
    );
    o.push_str("/// Sorted by name.\npub static OPERATIONS: &[Operation] = &[\n");
    let opt = |x: Option<usize>| x.map_or("None".to_string(), |i| format!("Some({i})"));
    for (op, input, output, sensitive) in &rows {
        let sens: Vec<String> = sensitive.iter().map(|s| format!("{s:?}")).collect();
        let _ = writeln!(
            o,
            "    Operation {{ name: {op:?}, input: {}, output: {}, sensitive: &[{}] }},",
            opt(*input),
            opt(*output),
            sens.join(", ")
        );
    }
    o.push_str("];\n\n");
    o.push_str("pub static PATTERNS: &[&str] = &[\n");
    for p in &g.patterns {
        let _ = writeln!(o, "    {p:?},");
    }
    o.push_str("];\n\n");
    o.push_str("pub static SHAPES: &[Shape] = &[\n");
    for (i, shape) in g.order.iter().enumerate() {
        let s = &model.shapes[shape];
        let kind = match s.ty.as_str() {
            "string" => "Kind::String".to_string(),
            "blob" => "Kind::Blob".into(),
            "boolean" => "Kind::Boolean".into(),
            "integer" => "Kind::Integer".into(),
            "long" => "Kind::Long".into(),
            "float" | "double" => "Kind::Float".into(),
            "timestamp" => "Kind::Timestamp".into(),
            "list" => format!("Kind::List({})", g.index[&s.member.as_ref().ok_or("list without member")?.shape]),
            "map" => format!(
                "Kind::Map({}, {})",
                g.index[&s.key.as_ref().ok_or("map without key")?.shape],
                g.index[&s.value.as_ref().ok_or("map without value")?.shape]
            ),
            "structure" => {
                let required: BTreeSet<&str> = s.required.iter().flatten().map(String::as_str).collect();
                let members: Vec<String> = s
                    .members
                    .as_ref()
                    .map(|m| &m.0[..])
                    .unwrap_or(&[])
                    .iter()
                    .map(|(mname, m)| {
                        format!(
                            "Member {{ name: {mname:?}, shape: {}, required: {}, sensitive: {} }}",
                            g.index[&m.shape],
                            required.contains(mname.as_str()),
                            g.member_sensitive(mname, m)
                        )
                    })
                    .collect();
                format!("Kind::Structure(&[{}])", members.join(", "))
            }
            t => return Err(format!("{name}: shape {shape} has unknown type {t}")),
        };
        // Floats' ranges are not checked (no served input has one).
        let bound = |b: Option<f64>| match (b, s.ty.as_str()) {
            (Some(_), "float" | "double") | (None, _) => "None".to_string(),
            (Some(v), _) => format!("Some({})", v as i64),
        };
        let pattern = s.pattern.as_ref().and_then(|p| g.patterns.iter().position(|q| q == p));
        let enum_values = match enums.get(shape) {
            Some((ty, _)) => format!("{ty}::VALUES"),
            None => "&[]".into(),
        };
        let sensitive = s.sensitive == Some(true)
            || (matches!(s.ty.as_str(), "list" | "map") && g.carries_secret(shape, &mut Vec::new()));
        let _ = writeln!(
            o,
            "    /* {i} */ Shape {{ name: {shape:?}, kind: {kind}, min: {}, max: {}, pattern: {}, enum_values: {enum_values}, sensitive: {sensitive} }},",
            bound(s.min),
            bound(s.max),
            opt(pattern)
        );
    }
    o.push_str("];\n");
    for (shape, (ty, variants)) in &enums {
        let values = model.shapes[shape].enum_values.as_deref().unwrap_or(&[]);
        let _ = writeln!(o, "\n/// The model's `{shape}` enum.");
        o.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n");
        let _ = writeln!(o, "pub enum {ty} {{");
        for (v, value) in variants.iter().zip(values.iter()) {
            let _ = writeln!(o, "    /// `{value}`");
            let _ = writeln!(o, "    {v},");
        }
        o.push_str("}\n\n");
        let _ = writeln!(o, "impl {ty} {{");
        o.push_str("    /// Every value, in the model's order (AWS lists them so in its messages).\n");
        let vals: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        let _ = writeln!(o, "    pub const VALUES: &'static [&'static str] = &[{}];", vals.join(", "));
        let all: Vec<String> = variants.iter().map(|v| format!("{ty}::{v}")).collect();
        let _ = writeln!(o, "    pub const ALL: &'static [{ty}] = &[{}];", all.join(", "));
        o.push_str("    /// The wire value.\n    pub fn as_str(self) -> &'static str {\n        match self {\n");
        for (v, value) in variants.iter().zip(values.iter()) {
            let _ = writeln!(o, "            {ty}::{v} => {value:?},");
        }
        o.push_str("        }\n    }\n");
        o.push_str("    /// The variant of a wire value, if the model has it.\n");
        o.push_str("    pub fn from_wire(value: &str) -> Option<Self> {\n        match value {\n");
        for (v, value) in variants.iter().zip(values.iter()) {
            let _ = writeln!(o, "            {value:?} => Some({ty}::{v}),");
        }
        o.push_str("            _ => None,\n        }\n    }\n}\n");
    }
    Ok(o)
}

/// The Rust type name and variant names of an enum shape (`RSA_2048` → `Rsa2048`).
fn enum_type(shape: &str, values: &[String]) -> Result<(String, Vec<String>), String> {
    const RESERVED: &[&str] =
        &["String", "Option", "Result", "Vec", "Box", "Self", "Kind", "Member", "Operation", "Service", "Shape"];
    let mut upper = shape.to_string();
    if let Some(f) = upper.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    let ty = if RESERVED.contains(&upper.as_str()) { format!("{upper}Enum") } else { upper };
    let mut seen = BTreeSet::new();
    let mut variants = Vec::new();
    for v in values {
        let mut name = String::new();
        for seg in v.split(|c: char| !c.is_ascii_alphanumeric()).filter(|s| !s.is_empty()) {
            let upper = seg.chars().all(|c| !c.is_ascii_lowercase());
            let mut cs = seg.chars();
            if let Some(f) = cs.next() {
                name.push(f.to_ascii_uppercase());
                if upper {
                    name.extend(cs.map(|c| c.to_ascii_lowercase()));
                } else {
                    name.extend(cs);
                }
            }
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || name == "Self" {
            name = format!("V{name}");
        }
        let mut unique = name.clone();
        let mut n = 2;
        while !seen.insert(unique.clone()) {
            unique = format!("{name}{n}");
            n += 1;
        }
        variants.push(unique);
    }
    Ok((ty, variants))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_variants_are_upper_camel_and_unique() {
        let (ty, v) = enum_type(
            "KeySpec",
            &[
                "RSA_2048".into(),
                "ECC_NIST_P256".into(),
                "SecureString".into(),
                "aws:kms".into(),
                "a-b".into(),
                "A_B".into(),
            ],
        )
        .unwrap();
        assert_eq!(ty, "KeySpec");
        assert_eq!(v, ["Rsa2048", "EccNistP256", "SecureString", "AwsKms", "AB", "AB2"]);
        assert_eq!(enum_type("String", &["1X".into()]).unwrap(), ("StringEnum".to_string(), vec!["V1x".to_string()]));
        assert_eq!(enum_type("statusType", &["Active".into()]).unwrap().0, "StatusType");
    }

    #[test]
    fn ordered_keeps_the_files_order() {
        let o: Ordered<u8> = serde_json::from_str(r#"{"b": 1, "a": 2, "c": 3}"#).unwrap();
        let keys: Vec<&str> = o.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }
}
