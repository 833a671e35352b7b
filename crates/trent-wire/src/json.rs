//! awsJson1.1 bodies: decoding with serde, base64 blobs, epoch-second timestamps.

use crate::WireError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serializer};
use zeroize::Zeroizing;

/// Decodes a request body. An empty body is treated as `{}`; anything that is not a JSON
/// object of the right shape is a `SerializationException`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and the expected type; it never echoes values
        // longer than a token, and the request types hold no secrets in their names.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or("malformed request body");
        WireError::Serialization(format!("Malformed request body: {msg}"))
    })
}

/// Encodes a response body. Serializing our own response types cannot fail in practice; if it
/// did, it is reported as a serialization failure rather than a panic.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    serde_json::to_vec(value).map_err(|_| WireError::Serialization("The response could not be encoded.".into()))
}

/// A base64 blob that is not secret (ciphertext, tags of bytes...).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        STANDARD.decode(s.as_bytes()).map(Blob).map_err(|_| serde::de::Error::custom("blob is not valid base64"))
    }
}

/// A base64 blob that is secret (plaintext): decoded straight into zeroizing memory.
pub struct SecretBlob(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBlob(<redacted {} bytes>)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        let mut out = Zeroizing::new(Vec::with_capacity(s.len() * 3 / 4 + 3));
        STANDARD
            .decode_vec(s.as_bytes(), &mut out)
            .map_err(|_| serde::de::Error::custom("blob is not valid base64"))?;
        Ok(SecretBlob(out))
    }
}

/// Serializes bytes as base64 (`#[serde(serialize_with = "b64")]`).
pub fn b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

/// Serializes an optional byte vector as base64.
pub fn b64_opt<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&STANDARD.encode(b)),
        None => s.serialize_none(),
    }
}

/// Serializes unix seconds as the epoch-seconds number awsJson uses.
pub fn epoch<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(*secs)
}

pub fn epoch_opt<S: Serializer>(secs: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match secs {
        Some(v) => s.serialize_i64(*v),
        None => s.serialize_none(),
    }
}

pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        key_id: Option<String>,
        plaintext: Option<SecretBlob>,
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let r: Req = decode(b"").unwrap();
        assert!(r.key_id.is_none() && r.plaintext.is_none());
    }

    #[test]
    fn bad_json_bad_type_and_bad_base64_are_serialization_errors() {
        for body in [&b"{"[..], b"[]", b"{\"KeyId\": 5}", b"{\"Plaintext\": \"!!!\"}", b"\xff\xfe"] {
            match decode::<Req>(body) {
                Err(WireError::Serialization(_)) => {}
                other => panic!("{:?} gave {:?}", String::from_utf8_lossy(body), other.map(|_| ())),
            }
        }
    }

    #[test]
    fn secret_blob_decodes_base64() {
        let r: Req = decode(br#"{"Plaintext":"aGVsbG8="}"#).unwrap();
        assert_eq!(r.plaintext.unwrap().0.as_slice(), b"hello");
    }
}
