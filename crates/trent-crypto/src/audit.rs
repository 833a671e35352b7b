//! The audit trail's tamper-evident format: a hash chain over JSON lines, with signed digests.
//!
//! A trail is a sequence of lines (`\n`-terminated), across files read in name order. Every
//! line is one JSON object that begins with its own hash:
//!
//! ```text
//! {"trentHash":"<64 hex>","trentSeq":7,"trentPrev":"<64 hex>","trentRecord":"event",...}
//! ```
//!
//! Let `B` be the line without its hash member, i.e. `{` followed by everything after the
//! first 81 bytes (`{"trentHash":"` + 64 hex digits + `",`). Then
//! `trentHash = SHA-256("trent-audit-v1\n" || B)`. Hashing the exact bytes written means the
//! verifier never has to re-serialize JSON. `trentSeq` counts from 1 with no gaps, and
//! `trentPrev` is the previous line's `trentHash` (64 zeros for the first line), so deleting,
//! inserting, reordering or editing any line breaks the chain at that line.
//!
//! `trentRecord` is one of:
//! * `event`: a CloudTrail-shaped event (its members sit beside the `trent*` ones);
//! * `intent`: written durably *before* a state-changing operation runs, so that no change
//!   can happen without a record of the attempt (the `event` with its outcome follows);
//! * `digest`: `trentDigest: {"throughSeq", "throughHash", "signedAt", "publicKey",
//!   "signature"}` — an Ed25519 signature by the server's audit signing key over
//!   [`digest_message`]. Someone who can rewrite the files can recompute hashes, but cannot
//!   sign: a verifier given the server's public key detects a rewritten trail.
//!
//! Events after the last digest are reported as an unsigned tail (the next digest will cover
//! them); a removed tail is only detectable up to the last digest.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The `trentPrev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const DOMAIN: &[u8] = b"trent-audit-v1\n";
const PREFIX: &str = "{\"trentHash\":\"";
/// `{"trentHash":"` (14) + 64 hex digits + `",` (2).
const HASH_PREFIX_LEN: usize = 14 + 64 + 2;

/// The kinds of line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Event,
    Intent,
    Digest,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Event => "event",
            RecordKind::Intent => "intent",
            RecordKind::Digest => "digest",
        }
    }
    fn from_name(s: &str) -> Option<Self> {
        match s {
            "event" => Some(RecordKind::Event),
            "intent" => Some(RecordKind::Intent),
            "digest" => Some(RecordKind::Digest),
            _ => None,
        }
    }
}

fn hash_body(body: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(body);
    hex::encode(ctx.finish().as_ref())
}

/// How deeply a record's fields may nest (objects and arrays, counting the fields object
/// itself). Well under serde_json's recursion limit (128), which [`parse_line`] reads with, so
/// every line [`seal_line`] writes is a line [`parse_line`] reads back.
pub const MAX_DEPTH: usize = 64;

/// The members every line begins with; a record's fields may not use these names.
const RESERVED: &[&str] = &["trentHash", "trentSeq", "trentPrev", "trentRecord"];

/// Builds one chained line (without the trailing newline).
///
/// `fields` is the serialized JSON object of the record's own members (it must start with
/// `{` and hold at least one member, none of them named like the line's own `trent*` members;
/// see [`check_fields`]). Returns the line and its hash.
pub fn seal_line(seq: u64, prev: &str, kind: RecordKind, fields: &str) -> Result<(String, String), FormatError> {
    check_fields(fields)?;
    seal_unchecked(seq, prev, kind, fields)
}

/// A record's fields that passed [`check_fields`]: sealing them ([`seal_checked`]) cannot make a
/// line [`parse_line`] would refuse, so a writer can check once, where the record is made, and
/// seal later without parsing it again.
#[derive(Debug, Clone)]
pub struct CheckedFields(String);

impl CheckedFields {
    pub fn new(fields: String) -> Result<CheckedFields, FormatError> {
        check_fields(&fields)?;
        Ok(CheckedFields(fields))
    }

    /// Serializes a record's members and checks them without parsing the text again: what
    /// [`check_fields`] reads back from text is known here from the map itself (an object, its
    /// member names), and serde_json writes no raw line breaks.
    pub fn from_map(fields: &serde_json::Map<String, serde_json::Value>) -> Result<CheckedFields, FormatError> {
        if fields.is_empty() {
            return Err(FormatError::NotAnObject);
        }
        if fields.keys().any(|k| RESERVED.contains(&k.as_str())) {
            return Err(FormatError::ReservedMember);
        }
        let text = serde_json::to_string(fields).map_err(|_| FormatError::NotAnObject)?;
        if nesting(&text) > MAX_DEPTH {
            return Err(FormatError::TooDeep);
        }
        debug_assert!(check_fields(&text).is_ok());
        Ok(CheckedFields(text))
    }

    /// The serialized members.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// [`seal_line`] for fields already checked.
pub fn seal_checked(
    seq: u64,
    prev: &str,
    kind: RecordKind,
    fields: &CheckedFields,
) -> Result<(String, String), FormatError> {
    seal_unchecked(seq, prev, kind, &fields.0)
}

fn seal_unchecked(seq: u64, prev: &str, kind: RecordKind, fields: &str) -> Result<(String, String), FormatError> {
    if prev.len() != 64 || !prev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(FormatError::BadPrev);
    }
    let rest = &fields[1..];
    let body = format!("{{\"trentSeq\":{seq},\"trentPrev\":\"{prev}\",\"trentRecord\":\"{}\",{rest}", kind.name());
    let hash = hash_body(body.as_bytes());
    let line = format!("{PREFIX}{hash}\",{}", &body[1..]);
    Ok((line, hash))
}

/// Whether `fields` can be sealed into a line that [`parse_line`] reads back: one JSON object
/// with at least one member, on one line, nested at most [`MAX_DEPTH`] deep, without the
/// line's reserved member names.
pub fn check_fields(fields: &str) -> Result<(), FormatError> {
    if !fields.starts_with('{') || fields.len() < 3 {
        return Err(FormatError::NotAnObject);
    }
    if fields.bytes().any(|b| b == b'\n' || b == b'\r') {
        return Err(FormatError::NotOneLine);
    }
    if nesting(fields) > MAX_DEPTH {
        return Err(FormatError::TooDeep);
    }
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(fields).map_err(|_| FormatError::NotAnObject)?;
    if map.is_empty() {
        return Err(FormatError::NotAnObject);
    }
    if map.keys().any(|k| RESERVED.contains(&k.as_str())) {
        return Err(FormatError::ReservedMember);
    }
    Ok(())
}

/// The deepest nesting of objects and arrays in a JSON text (brackets inside strings do not count).
fn nesting(json: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// What a record's fields must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Not a JSON object with at least one member.
    NotAnObject,
    /// A line break outside a JSON string.
    NotOneLine,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A member named like one of the line's own (`trentHash`, `trentSeq`, …).
    ReservedMember,
    /// The previous hash is not 64 lower-case hex digits.
    BadPrev,
}

/// The message a digest signs.
pub fn digest_message(through_seq: u64, through_hash: &str, signed_at: &str) -> Vec<u8> {
    format!("trent-audit-digest-v1\n{through_seq}\n{through_hash}\n{signed_at}").into_bytes()
}

/// The server's audit signing key (Ed25519). Its PKCS#8 form is stored wrapped under the root key.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", hex::encode(self.public_key()))
    }
}

impl SigningKey {
    /// A new key and its PKCS#8 document (to be wrapped and stored).
    pub fn generate() -> Result<(SigningKey, crate::SecretBytes), crate::CryptoError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| crate::CryptoError::Internal)?;
        let secret = crate::SecretBytes::from_slice(doc.as_ref());
        Ok((SigningKey::from_pkcs8(&secret)?, secret))
    }

    pub fn from_pkcs8(pkcs8: &crate::SecretBytes) -> Result<SigningKey, crate::CryptoError> {
        Ed25519KeyPair::from_pkcs8(pkcs8.expose()).map(SigningKey).map_err(|_| crate::CryptoError::Invalid)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).as_ref().to_vec()
    }
}

/// Why a trail does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// Not JSON, not an object, or a required member is missing or mistyped.
    Malformed(String),
    /// The line's own hash does not match its content (the line was edited).
    HashMismatch,
    /// `trentSeq` is not the next number (a line was removed, inserted or moved).
    Sequence { expected: u64, found: u64 },
    /// `trentPrev` is not the previous line's hash.
    BrokenLink,
    /// A digest's signature does not verify, or it signs something other than the chain so far.
    BadDigest(String),
    /// A digest is signed by a key other than the expected one.
    WrongSigningKey,
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Malformed(m) => write!(f, "malformed record: {m}"),
            ChainError::HashMismatch => f.write_str("the record's hash does not match its content (edited)"),
            ChainError::Sequence { expected, found } => {
                write!(f, "expected sequence number {expected}, found {found} (records removed, inserted or reordered)")
            }
            ChainError::BrokenLink => f.write_str("the record does not link to the previous record's hash"),
            ChainError::BadDigest(m) => write!(f, "invalid signed digest: {m}"),
            ChainError::WrongSigningKey => f.write_str("a digest is signed by an unexpected key"),
        }
    }
}

impl std::error::Error for ChainError {}

/// One parsed line that verified.
#[derive(Debug)]
pub struct VerifiedLine {
    pub seq: u64,
    pub hash: String,
    pub kind: RecordKind,
    pub value: serde_json::Map<String, serde_json::Value>,
}

/// Parses one line and checks its own hash (not its place in a chain).
pub fn parse_line(line: &str) -> Result<VerifiedLine, ChainError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let bad = || ChainError::Malformed("does not start with its trentHash".into());
    // Byte checks first: no slice below can fall inside a multi-byte character.
    let bytes = line.as_bytes();
    if bytes.len() <= HASH_PREFIX_LEN || !line.starts_with(PREFIX) {
        return Err(bad());
    }
    let hex_digits = &bytes[PREFIX.len()..PREFIX.len() + 64];
    if !hex_digits.iter().all(|b| b.is_ascii_hexdigit()) || &bytes[PREFIX.len() + 64..HASH_PREFIX_LEN] != b"\"," {
        return Err(bad());
    }
    let claimed = line.get(PREFIX.len()..PREFIX.len() + 64).ok_or_else(bad)?;
    let rest = line.get(HASH_PREFIX_LEN..).ok_or_else(bad)?;
    let body = format!("{{{rest}");
    if hash_body(body.as_bytes()) != claimed {
        return Err(ChainError::HashMismatch);
    }
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ChainError::Malformed(format!("not JSON: {e}")))?;
    let serde_json::Value::Object(value) = value else {
        return Err(ChainError::Malformed("not a JSON object".into()));
    };
    let seq = value.get("trentSeq").and_then(|v| v.as_u64()).ok_or_else(|| missing("trentSeq"))?;
    let kind = value
        .get("trentRecord")
        .and_then(|v| v.as_str())
        .and_then(RecordKind::from_name)
        .ok_or_else(|| missing("trentRecord"))?;
    if value.get("trentPrev").and_then(|v| v.as_str()).is_none() {
        return Err(missing("trentPrev"));
    }
    Ok(VerifiedLine { seq, hash: claimed.to_string(), kind, value })
}

fn missing(field: &str) -> ChainError {
    ChainError::Malformed(format!("{field} is missing or has the wrong type"))
}

/// Checks a trail line by line, in order.
pub struct ChainVerifier {
    expected_seq: u64,
    prev: String,
    pinned_key: Option<Vec<u8>>,
    seen_key: Option<Vec<u8>>,
    /// The sequence number of the last line covered by a verified digest.
    pub signed_through: u64,
    pub events: u64,
    pub digests: u64,
}

/// What a whole verified trail held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub events: u64,
    pub digests: u64,
    /// Records after the last digest (not yet covered by a signature).
    pub unsigned_tail: u64,
    /// The signing key of the digests, hex.
    pub signing_key: Option<String>,
}

impl ChainVerifier {
    /// `pinned_key`: the server's raw Ed25519 public key, if the verifier knows it; without it,
    /// digests are checked against the key they name, which must be the same throughout.
    pub fn new(pinned_key: Option<Vec<u8>>) -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS.to_string(),
            pinned_key,
            seen_key: None,
            signed_through: 0,
            events: 0,
            digests: 0,
        }
    }

    /// Checks the next line.
    pub fn feed(&mut self, line: &str) -> Result<VerifiedLine, ChainError> {
        let v = parse_line(line)?;
        if v.seq != self.expected_seq {
            return Err(ChainError::Sequence { expected: self.expected_seq, found: v.seq });
        }
        if v.value.get("trentPrev").and_then(|p| p.as_str()) != Some(self.prev.as_str()) {
            return Err(ChainError::BrokenLink);
        }
        match v.kind {
            RecordKind::Event => self.events += 1,
            RecordKind::Intent => {}
            RecordKind::Digest => {
                self.check_digest(&v)?;
                self.digests += 1;
                self.signed_through = v.seq;
            }
        }
        self.expected_seq = v.seq + 1;
        self.prev = v.hash.clone();
        Ok(v)
    }

    fn check_digest(&mut self, v: &VerifiedLine) -> Result<(), ChainError> {
        let d = v.value.get("trentDigest").and_then(|d| d.as_object()).ok_or_else(|| missing("trentDigest"))?;
        let through_seq = d.get("throughSeq").and_then(|x| x.as_u64()).ok_or_else(|| missing("throughSeq"))?;
        let through_hash = d.get("throughHash").and_then(|x| x.as_str()).ok_or_else(|| missing("throughHash"))?;
        let signed_at = d.get("signedAt").and_then(|x| x.as_str()).ok_or_else(|| missing("signedAt"))?;
        let key = d
            .get("publicKey")
            .and_then(|x| x.as_str())
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| missing("publicKey"))?;
        let sig = d
            .get("signature")
            .and_then(|x| x.as_str())
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| missing("signature"))?;
        if through_seq + 1 != v.seq || through_hash != self.prev {
            return Err(ChainError::BadDigest("it does not sign the records before it".into()));
        }
        if let Some(pinned) = &self.pinned_key {
            if *pinned != key {
                return Err(ChainError::WrongSigningKey);
            }
        }
        match &self.seen_key {
            Some(seen) if *seen != key => return Err(ChainError::WrongSigningKey),
            _ => self.seen_key = Some(key.clone()),
        }
        UnparsedPublicKey::new(&signature::ED25519, &key)
            .verify(&digest_message(through_seq, through_hash, signed_at), &sig)
            .map_err(|_| ChainError::BadDigest("the signature does not verify".into()))
    }

    pub fn finish(&self) -> Summary {
        let records = self.expected_seq - 1;
        Summary {
            records,
            events: self.events,
            digests: self.digests,
            unsigned_tail: records - self.signed_through,
            signing_key: self.seen_key.as_ref().map(hex::encode),
        }
    }
}

/// The fields of a digest record for the chain so far (`through_seq`, `through_hash`).
pub fn digest_fields(key: &SigningKey, through_seq: u64, through_hash: &str, signed_at: &str) -> String {
    let sig = key.sign(&digest_message(through_seq, through_hash, signed_at));
    serde_json::json!({
        "trentDigest": {
            "throughSeq": through_seq,
            "throughHash": through_hash,
            "signedAt": signed_at,
            "publicKey": hex::encode(key.public_key()),
            "signature": hex::encode(sig),
        }
    })
    .to_string()
}

/// The message a chain head signs: the last durable record of a chain (`node` is "" for a
/// file trail). Kept outside the trail (in the store), it shows where the trail must at least
/// reach, so a trail cut back to an earlier record is caught even when it still chains.
pub fn head_message(node: &str, seq: u64, hash: &str) -> Vec<u8> {
    format!("trent-audit-head-v1\n{node}\n{seq}\n{hash}").into_bytes()
}

/// Signs a chain head; returns the hex signature.
pub fn sign_head(key: &SigningKey, node: &str, seq: u64, hash: &str) -> String {
    hex::encode(key.sign(&head_message(node, seq, hash)))
}

/// Whether `signature` (hex) is `public_key`'s signature over the head.
pub fn verify_head(public_key: &[u8], node: &str, seq: u64, hash: &str, signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature) else { return false };
    UnparsedPublicKey::new(&signature::ED25519, public_key).verify(&head_message(node, seq, hash), &sig).is_ok()
}

/// The chain members every line starts with, read from the line's fixed prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineHead {
    pub seq: u64,
    pub hash: String,
    pub prev: String,
    pub kind: RecordKind,
}

/// Checks one line's own hash and reads its chain members from the prefix every sealed line
/// starts with (`{"trentHash":…,"trentSeq":…,"trentPrev":…,"trentRecord":…,`), without parsing
/// the rest of the line as JSON: however long or deeply nested a record's own members are, the
/// line's place in the chain is found (used to resume a trail and to check a stored head).
pub fn line_head(line: &str) -> Result<LineHead, ChainError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let bad = || ChainError::Malformed("does not start with the trent chain members".into());
    if line.len() <= HASH_PREFIX_LEN || !line.starts_with(PREFIX) || !line.is_char_boundary(HASH_PREFIX_LEN) {
        return Err(bad());
    }
    let claimed = &line[PREFIX.len()..PREFIX.len() + 64];
    if &line[PREFIX.len() + 64..HASH_PREFIX_LEN] != "\"," || !claimed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let rest = &line[HASH_PREFIX_LEN..];
    let rest = rest.strip_prefix("\"trentSeq\":").ok_or_else(bad)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 20 {
        return Err(bad());
    }
    let seq: u64 = rest[..digits].parse().map_err(|_| bad())?;
    let rest = rest[digits..].strip_prefix(",\"trentPrev\":\"").ok_or_else(bad)?;
    if rest.len() < 64 || !rest.is_char_boundary(64) {
        return Err(bad());
    }
    let prev = &rest[..64];
    let rest = rest[64..].strip_prefix("\",\"trentRecord\":\"").ok_or_else(bad)?;
    let end = rest.find('"').ok_or_else(bad)?;
    let kind = RecordKind::from_name(&rest[..end]).ok_or_else(bad)?;
    if !rest[end..].starts_with("\",") || !line.ends_with('}') || !prev.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let body = format!("{{{}", &line[HASH_PREFIX_LEN..]);
    if hash_body(body.as_bytes()) != claimed {
        return Err(ChainError::HashMismatch);
    }
    Ok(LineHead { seq, hash: claimed.to_string(), prev: prev.to_string(), kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(n: u64, key: &SigningKey) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        let mut lines = Vec::new();
        for seq in 1..=n {
            let (line, hash) = if seq % 4 == 0 {
                seal_line(seq, &prev, RecordKind::Digest, &digest_fields(key, seq - 1, &prev, "2026-01-01T00:00:00Z"))
            } else {
                seal_line(seq, &prev, RecordKind::Event, &format!("{{\"eventName\":\"Decrypt\",\"n\":{seq}}}"))
            }
            .unwrap();
            lines.push(line);
            prev = hash;
        }
        lines
    }

    fn verify(lines: &[String], pinned: Option<Vec<u8>>) -> Result<Summary, (usize, ChainError)> {
        let mut v = ChainVerifier::new(pinned);
        for (i, l) in lines.iter().enumerate() {
            v.feed(l).map_err(|e| (i, e))?;
        }
        Ok(v.finish())
    }

    #[test]
    fn fields_checked_from_a_map_agree_with_the_text_check() {
        let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
        let deep = (0..MAX_DEPTH + 1).fold(serde_json::json!(1), |v, _| serde_json::json!([v]));
        let cases = [
            obj(serde_json::json!({"a": "line\nbreak\r", "b": [1, {"c": null}]})),
            obj(serde_json::json!({})),
            obj(serde_json::json!({"trentSeq": 1})),
            obj(serde_json::json!({"deep": deep})),
        ];
        for m in cases {
            let text = serde_json::to_string(&m).unwrap();
            let by_map = CheckedFields::from_map(&m).map(|c| c.as_str().to_string());
            let by_text = CheckedFields::new(text.clone()).map(|c| c.as_str().to_string());
            assert_eq!(by_map, by_text, "{text}");
        }
        assert!(CheckedFields::from_map(&obj(serde_json::json!({"a": 1}))).is_ok());
    }

    #[test]
    fn an_intact_trail_verifies_and_counts_its_records() {
        let (key, _) = SigningKey::generate().unwrap();
        let lines = trail(10, &key);
        let s = verify(&lines, Some(key.public_key())).unwrap();
        assert_eq!(
            s,
            Summary {
                records: 10,
                events: 8,
                digests: 2,
                unsigned_tail: 2,
                signing_key: Some(hex::encode(key.public_key()))
            }
        );
        // Every line is ordinary JSON that tools can read.
        for l in &lines {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["trentHash"].as_str().unwrap().len() == 64);
        }
    }

    #[test]
    fn an_edited_line_is_caught_at_that_line() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut lines = trail(10, &key);
        lines[5] = lines[5].replace("Decrypt", "Encrypt");
        assert_eq!(verify(&lines, None).unwrap_err(), (5, ChainError::HashMismatch));
    }

    #[test]
    fn a_deleted_line_is_caught_at_the_gap() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut lines = trail(10, &key);
        lines.remove(2);
        assert_eq!(verify(&lines, None).unwrap_err(), (2, ChainError::Sequence { expected: 3, found: 4 }));
    }

    #[test]
    fn reordered_lines_are_caught() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut lines = trail(10, &key);
        lines.swap(5, 6);
        assert_eq!(verify(&lines, None).unwrap_err().0, 5);
    }

    #[test]
    fn a_recomputed_chain_without_the_signing_key_is_caught_by_the_digest() {
        let (key, _) = SigningKey::generate().unwrap();
        let (forger, _) = SigningKey::generate().unwrap();
        // The forger rewrites the whole trail consistently, but signs with its own key.
        let lines = trail(10, &forger);
        assert_eq!(verify(&lines, Some(key.public_key())).unwrap_err(), (3, ChainError::WrongSigningKey));
        // A digest whose signature was altered fails even without a pinned key.
        let mut lines = trail(10, &key);
        let v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        let sig = v["trentDigest"]["signature"].as_str().unwrap();
        let mut bad = hex::decode(sig).unwrap();
        bad[0] ^= 1;
        let d = v["trentDigest"].clone();
        let fields = serde_json::json!({"trentDigest": {
            "throughSeq": d["throughSeq"], "throughHash": d["throughHash"], "signedAt": d["signedAt"],
            "publicKey": d["publicKey"], "signature": hex::encode(bad)}})
        .to_string();
        let prev = v["trentPrev"].as_str().unwrap().to_string();
        lines[3] = seal_line(4, &prev, RecordKind::Digest, &fields).unwrap().0;
        assert!(matches!(verify(&lines[..4], None).unwrap_err(), (3, ChainError::BadDigest(_))));
    }

    #[test]
    fn garbage_lines_are_malformed_not_panics() {
        for bad in
            ["", "{}", "not json", "{\"trentHash\":\"zz\"}", &"{\"trentHash\":\"".repeat(10), "{\"trentHash\":\"é"]
        {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seal_line_refuses_an_empty_object() {
        assert_eq!(seal_line(1, GENESIS, RecordKind::Event, "{}").unwrap_err(), FormatError::NotAnObject);
        assert_eq!(seal_line(1, GENESIS, RecordKind::Event, "[]").unwrap_err(), FormatError::NotAnObject);
    }

    #[test]
    fn line_head_reads_a_deep_long_line_and_checks_its_hash() {
        let deep = format!("{{\"eventName\":\"X\",\"d\":{}1{}}}", "[".repeat(MAX_DEPTH - 2), "]".repeat(MAX_DEPTH - 2));
        let (line, hash) = seal_line(7, GENESIS, RecordKind::Event, &deep).unwrap();
        let h = line_head(&line).unwrap();
        assert_eq!(h, LineHead { seq: 7, hash, prev: GENESIS.to_string(), kind: RecordKind::Event });
        assert_eq!(line_head(&line.replace("\"X\"", "\"Y\"")).unwrap_err(), ChainError::HashMismatch);
        for bad in ["", "{}", &line[..90], &line.replace("trentSeq", "trentSeX")] {
            assert!(line_head(bad).is_err(), "{bad:.100}");
        }
    }

    #[test]
    fn a_multibyte_character_across_the_hash_is_malformed_not_a_panic() {
        // 'é' is two bytes: put one so it straddles byte 78 (the end of the hash digits), and
        // one straddling byte 80 (the end of the hash prefix).
        for at in [77, 79] {
            let mut line = String::from(PREFIX);
            line.push_str(&"a".repeat(at - PREFIX.len()));
            line.push('é');
            line.push_str("\"trentSeq\":1}");
            assert!(parse_line(&line).is_err(), "{line}");
        }
    }

    #[test]
    fn seal_line_refuses_what_parse_line_would_not_read_back() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(seal_line(1, GENESIS, RecordKind::Event, &deep).unwrap_err(), FormatError::TooDeep);
        // The deepest that is allowed is read back.
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        let (line, _) = seal_line(1, GENESIS, RecordKind::Event, &ok).unwrap();
        assert!(parse_line(&line).is_ok());
        assert_eq!(seal_line(1, GENESIS, RecordKind::Event, "{\"a\":\n1}").unwrap_err(), FormatError::NotOneLine);
        assert_eq!(
            seal_line(1, GENESIS, RecordKind::Event, "{\"trentSeq\":99}").unwrap_err(),
            FormatError::ReservedMember
        );
        assert_eq!(seal_line(1, GENESIS, RecordKind::Event, "{\"a\":1").unwrap_err(), FormatError::NotAnObject);
        assert_eq!(seal_line(1, "\"x", RecordKind::Event, "{\"a\":1}").unwrap_err(), FormatError::BadPrev);
        // Brackets inside strings are not nesting.
        let brackets = format!("{{\"a\":\"{}\"}}", "[{\\\"".repeat(100));
        assert!(parse_line(&seal_line(1, GENESIS, RecordKind::Event, &brackets).unwrap().0).is_ok());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::Bool),
                any::<i64>().prop_map(|n| serde_json::json!(n)),
                ".{0,12}".prop_map(serde_json::Value::String),
            ];
            leaf.prop_recursive(100, 400, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                    proptest::collection::btree_map(".{0,8}", inner, 0..4)
                        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn parse_line_never_panics_on_any_string(s in ".{0,200}") {
                let _ = parse_line(&s);
                let _ = parse_line(&format!("{PREFIX}{s}"));
            }

            #[test]
            fn parse_line_never_panics_near_the_hash(hash in "[0-9a-fé\"]{60,70}", rest in ".{0,40}") {
                let _ = parse_line(&format!("{PREFIX}{hash}\",{rest}"));
            }

            #[test]
            fn whatever_seal_line_accepts_parse_line_reads_back(v in json(), kind in 0..3u8) {
                let fields = serde_json::json!({"x": v}).to_string();
                let kind = [RecordKind::Event, RecordKind::Intent, RecordKind::Digest][kind as usize];
                match seal_line(7, GENESIS, kind, &fields) {
                    Ok((line, hash)) => {
                        let back = parse_line(&line).expect("a sealed line reads back");
                        prop_assert_eq!(back.seq, 7);
                        prop_assert_eq!(back.hash, hash);
                        prop_assert_eq!(&back.value["x"], &serde_json::json!({"x": v})["x"]);
                    }
                    Err(e) => prop_assert_eq!(e, FormatError::TooDeep),
                }
            }
        }
    }
}
