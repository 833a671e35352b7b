//! Canonical encoding of a KMS encryption context, used as AES-GCM additional data.
//!
//! `u32 count || for each pair, sorted by key bytes: u32 len(key) || key || u32 len(value) || value`
//! (all lengths big-endian). Every field is length-prefixed, so `{"ab":"c"}` and `{"a":"bc"}`
//! encode differently, and the order in which the client sent the pairs does not matter.

use std::collections::BTreeMap;

/// Encodes a map (already sorted by key, since it is a `BTreeMap` of byte-ordered strings).
pub fn encode(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + ctx.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>());
    out.extend_from_slice(&(ctx.len() as u32).to_be_bytes());
    for (k, v) in ctx {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn shifted_boundaries_do_not_collide() {
        assert_ne!(encode(&m(&[("ab", "c")])), encode(&m(&[("a", "bc")])));
        assert_ne!(encode(&m(&[("a", "b"), ("c", "d")])), encode(&m(&[("a", "bcd")])));
        assert_ne!(encode(&m(&[])), encode(&m(&[("", "")])));
    }

    proptest! {
        #[test]
        fn encoding_is_injective(a in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4),
                                 b in proptest::collection::btree_map(".{0,6}", ".{0,6}", 0..4)) {
            prop_assert_eq!(a == b, encode(&a) == encode(&b));
        }
    }
}
