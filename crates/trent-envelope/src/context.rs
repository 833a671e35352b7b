//! The encryption context and its serialization (the header's AAD field, and the AAD of raw AES keyrings).

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Key-value pairs bound to a message. A `BTreeMap` orders keys by their UTF-8 bytes, the SDK's order.
pub type EncryptionContext = BTreeMap<String, String>;

/// The key under which signed suites store the base64 compressed verification key.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";
/// Keys with this prefix belong to the SDK; callers may not set them.
pub const RESERVED_PREFIX: &str = "aws-crypto-";

/// Serializes: empty context → zero bytes; else count (u16) then each key and value with a u16 length, sorted.
pub fn serialize(ec: &EncryptionContext) -> Result<Vec<u8>> {
    if ec.is_empty() {
        return Ok(Vec::new());
    }
    let too_long = || Error::InvalidArgument("encryption context is too large to serialize (limit 65535 bytes)".into());
    let count = u16::try_from(ec.len()).map_err(|_| too_long())?;
    let mut out = Vec::with_capacity(2 + ec.len() * 8);
    out.extend_from_slice(&count.to_be_bytes());
    for (k, v) in ec {
        for s in [k, v] {
            let len = u16::try_from(s.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    if out.len() > u16::MAX as usize {
        return Err(too_long());
    }
    Ok(out)
}

/// Parses the serialized form; rejects duplicate keys, invalid UTF-8 and bytes left over.
pub fn deserialize(bytes: &[u8]) -> Result<EncryptionContext> {
    let mut ec = EncryptionContext::new();
    if bytes.is_empty() {
        return Ok(ec);
    }
    let bad = |m: &str| Error::Malformed(format!("encryption context: {m}"));
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let end = pos.checked_add(n).filter(|e| *e <= bytes.len()).ok_or_else(|| bad("field runs past its length"))?;
        let s = &bytes[pos..end];
        pos = end;
        Ok(s)
    };
    let count = u16::from_be_bytes(take(2)?.try_into().expect("2 bytes"));
    if count == 0 {
        return Err(bad("non-empty field with a pair count of zero"));
    }
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for slot in pair.iter_mut() {
            let len = u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
            *slot = std::str::from_utf8(take(len)?).map_err(|_| bad("not UTF-8"))?.to_string();
        }
        let [k, v] = pair;
        if ec.insert(k, v).is_some() {
            return Err(bad("duplicate key"));
        }
    }
    if pos != bytes.len() {
        return Err(bad("bytes after the last pair"));
    }
    Ok(ec)
}

/// Refuses caller-supplied keys in the SDK's reserved namespace.
pub fn check_no_reserved_keys(ec: &EncryptionContext) -> Result<()> {
    match ec.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(k) => Err(Error::ReservedEncryptionContextKey(k.clone())),
        None => Ok(()),
    }
}

/// Every pair of `required` must be in `ec` with the same value.
pub fn check_contains(ec: &EncryptionContext, required: &EncryptionContext) -> Result<()> {
    for (k, v) in required {
        if ec.get(k) != Some(v) {
            return Err(Error::EncryptionContextMismatch { key: k.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_context_serializes_to_zero_bytes() {
        assert!(serialize(&EncryptionContext::new()).unwrap().is_empty());
        assert!(deserialize(&[]).unwrap().is_empty());
    }

    #[test]
    fn pairs_serialize_sorted_by_key_and_round_trip() {
        let c = ec(&[("b", "2"), ("a", "1")]);
        let bytes = serialize(&c).unwrap();
        assert_eq!(bytes, [0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']);
        assert_eq!(deserialize(&bytes).unwrap(), c);
    }

    #[test]
    fn deserialize_rejects_duplicates_truncation_and_trailing_bytes() {
        let dup = [0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'a', 0, 1, b'2'];
        assert!(matches!(deserialize(&dup), Err(Error::Malformed(_))));
        assert!(deserialize(&[0, 1, 0, 5, b'a']).is_err());
        assert!(deserialize(&[0, 1, 0, 1, b'a', 0, 0, 9]).is_err());
        assert!(deserialize(&[0, 0]).is_err());
    }

    #[test]
    fn reserved_prefix_is_refused_for_callers() {
        assert!(check_no_reserved_keys(&ec(&[("aws-crypto-x", "1")])).is_err());
        assert!(check_no_reserved_keys(&ec(&[("aws-cryptox", "1")])).is_ok());
    }

    #[test]
    fn required_context_must_be_a_subset_with_equal_values() {
        let msg = ec(&[("a", "1"), ("b", "2")]);
        assert!(check_contains(&msg, &ec(&[("a", "1")])).is_ok());
        assert!(matches!(check_contains(&msg, &ec(&[("a", "9")])), Err(Error::EncryptionContextMismatch { .. })));
        assert!(check_contains(&msg, &ec(&[("c", "1")])).is_err());
    }
}
