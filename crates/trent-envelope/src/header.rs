//! The message header (format versions 1 and 2): serialization and a bounded, typed parser.

use crate::context::{self, EncryptionContext};
use crate::error::{Error, Result};
use crate::materials::EncryptedDataKey;
use crate::suite::{AlgorithmSuite, COMMITMENT_LEN, IV_LEN};
use std::io::Read;

/// How the body is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    NonFramed = 1,
    Framed = 2,
}

/// A parsed (or to-be-written) header, without its authentication tag.
#[derive(Clone, Debug)]
pub struct Header {
    pub version: u8,
    pub suite: &'static AlgorithmSuite,
    pub message_id: Vec<u8>,
    pub encryption_context: EncryptionContext,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    pub content_type: ContentType,
    pub frame_length: u32,
    /// The commitment key (v2 only).
    pub commitment: Option<[u8; COMMITMENT_LEN]>,
}

fn put_u16_field(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| Error::InvalidArgument(format!("{what} is {} bytes; the limit is 65535", bytes.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

impl Header {
    /// The header bytes that the header authentication tag covers.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        if self.version == 1 {
            out.extend_from_slice(&[1, 0x80]);
        } else {
            out.push(2);
        }
        out.extend_from_slice(&self.suite.id.to_be_bytes());
        out.extend_from_slice(&self.message_id);
        put_u16_field(&mut out, &context::serialize(&self.encryption_context)?, "the encryption context")?;
        let count = u16::try_from(self.encrypted_data_keys.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::InvalidArgument("a message needs 1 to 65535 encrypted data keys".into()))?;
        out.extend_from_slice(&count.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            put_u16_field(&mut out, edk.provider_id.as_bytes(), "a provider id")?;
            put_u16_field(&mut out, &edk.provider_info, "a provider info")?;
            put_u16_field(&mut out, &edk.ciphertext, "an encrypted data key")?;
        }
        out.push(self.content_type as u8);
        if self.version == 1 {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.push(IV_LEN as u8);
            out.extend_from_slice(&self.frame_length.to_be_bytes());
        } else {
            out.extend_from_slice(&self.frame_length.to_be_bytes());
            let c = self.commitment.ok_or(Error::Crypto("v2 header without commitment key"))?;
            out.extend_from_slice(&c);
        }
        Ok(out)
    }
}

/// Reads exactly `n` bytes, appending them to `raw`; a short read is `Truncated { what }`.
pub(crate) fn read_into<R: Read>(r: &mut R, raw: &mut Vec<u8>, n: usize, what: &'static str) -> Result<()> {
    let start = raw.len();
    let got = r.take(n as u64).read_to_end(raw)?;
    if got != n {
        raw.truncate(start);
        return Err(Error::Truncated { what });
    }
    Ok(())
}

struct Cursor<'a, R> {
    r: &'a mut R,
    raw: Vec<u8>,
}

impl<R: Read> Cursor<'_, R> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&[u8]> {
        let start = self.raw.len();
        read_into(self.r, &mut self.raw, n, what)?;
        Ok(&self.raw[start..])
    }
    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn field(&mut self, what: &'static str) -> Result<Vec<u8>> {
        let n = self.u16(what)? as usize;
        Ok(self.bytes(n, what)?.to_vec())
    }
}

/// Parses a header from `r`. Returns the header and its raw bytes (what the auth tag covers).
/// Refuses more than `max_edks` encrypted data keys before reading them.
pub fn read_header<R: Read>(r: &mut R, max_edks: Option<usize>) -> Result<(Header, Vec<u8>)> {
    let mut c = Cursor { r, raw: Vec::with_capacity(512) };
    let version = c.u8("header version")?;
    match version {
        1 => {
            let t = c.u8("header type")?;
            if t != 0x80 {
                return Err(Error::Malformed(format!("message type 0x{t:02X}; only 0x80 (customer AE data) exists")));
            }
        }
        2 => {}
        v => return Err(Error::Malformed(format!("unknown message format version {v}"))),
    }
    let suite = AlgorithmSuite::from_id(c.u16("algorithm suite id")?)?;
    if suite.message_version() != version {
        return Err(Error::Malformed(format!("suite {} cannot appear in a version {version} message", suite.name)));
    }
    let message_id = c.bytes(suite.message_id_len(), "message id")?.to_vec();
    let ec_bytes = c.field("encryption context")?;
    let encryption_context = context::deserialize(&ec_bytes)?;
    let count = c.u16("encrypted data key count")? as usize;
    if count == 0 {
        return Err(Error::Malformed("no encrypted data keys".into()));
    }
    if let Some(max) = max_edks {
        if count > max {
            return Err(Error::TooManyEncryptedDataKeys { max, found: count });
        }
    }
    let mut encrypted_data_keys = Vec::with_capacity(count);
    for _ in 0..count {
        let provider_id = String::from_utf8(c.field("encrypted data key provider id")?)
            .map_err(|_| Error::Malformed("provider id is not UTF-8".into()))?;
        let provider_info = c.field("encrypted data key provider info")?;
        let ciphertext = c.field("encrypted data key")?;
        encrypted_data_keys.push(EncryptedDataKey { provider_id, provider_info, ciphertext });
    }
    let content_type = match c.u8("content type")? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        t => return Err(Error::Malformed(format!("unknown content type {t}"))),
    };
    let mut commitment = None;
    let frame_length;
    if version == 1 {
        if c.bytes(4, "reserved field")? != [0, 0, 0, 0] {
            return Err(Error::Malformed("reserved header field is not zero".into()));
        }
        let iv_len = c.u8("IV length")?;
        if iv_len as usize != IV_LEN {
            return Err(Error::Malformed(format!("IV length {iv_len}; the suite uses {IV_LEN}")));
        }
        frame_length = c.u32("frame length")?;
    } else {
        frame_length = c.u32("frame length")?;
        let mut k = [0u8; COMMITMENT_LEN];
        k.copy_from_slice(c.bytes(COMMITMENT_LEN, "key commitment")?);
        commitment = Some(k);
    }
    match content_type {
        ContentType::Framed if frame_length == 0 => {
            return Err(Error::Malformed("framed content with a frame length of 0".into()))
        }
        ContentType::NonFramed if frame_length != 0 => {
            return Err(Error::Malformed("non-framed content with a non-zero frame length".into()))
        }
        _ => {}
    }
    let header = Header {
        version,
        suite,
        message_id,
        encryption_context,
        encrypted_data_keys,
        content_type,
        frame_length,
        commitment,
    };
    Ok((header, c.raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite;

    fn sample(version: u8) -> Header {
        let s = if version == 2 {
            &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY
        } else {
            &suite::AES_128_GCM_IV12_TAG16_NO_KDF
        };
        Header {
            version,
            suite: s,
            message_id: vec![7; s.message_id_len()],
            encryption_context: [("a".to_string(), "b".to_string())].into_iter().collect(),
            encrypted_data_keys: vec![EncryptedDataKey {
                provider_id: "ns".into(),
                provider_info: b"name".to_vec(),
                ciphertext: vec![1, 2, 3],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            commitment: if version == 2 { Some([9; 32]) } else { None },
        }
    }

    #[test]
    fn v1_and_v2_headers_round_trip() {
        for v in [1, 2] {
            let h = sample(v);
            let bytes = h.serialize().unwrap();
            let (back, raw) = read_header(&mut bytes.as_slice(), None).unwrap();
            assert_eq!(raw, bytes);
            assert_eq!(back.version, v);
            assert_eq!(back.suite.id, h.suite.id);
            assert_eq!(back.message_id, h.message_id);
            assert_eq!(back.encryption_context, h.encryption_context);
            assert_eq!(back.encrypted_data_keys, h.encrypted_data_keys);
            assert_eq!(back.frame_length, 4096);
            assert_eq!(back.commitment, h.commitment);
        }
    }

    #[test]
    fn every_truncation_of_a_header_is_reported_as_truncated() {
        let bytes = sample(2).serialize().unwrap();
        for n in 0..bytes.len() {
            let r = read_header(&mut &bytes[..n], None);
            assert!(matches!(r, Err(Error::Truncated { .. })), "prefix {n}: {r:?}");
        }
    }

    #[test]
    fn header_with_more_edks_than_the_maximum_is_refused() {
        let mut h = sample(2);
        h.encrypted_data_keys.push(h.encrypted_data_keys[0].clone());
        let bytes = h.serialize().unwrap();
        let r = read_header(&mut bytes.as_slice(), Some(1));
        assert!(matches!(r, Err(Error::TooManyEncryptedDataKeys { max: 1, found: 2 })));
        assert!(read_header(&mut bytes.as_slice(), Some(2)).is_ok());
    }

    #[test]
    fn unknown_version_suite_and_content_type_are_malformed() {
        let bytes = sample(2).serialize().unwrap();
        let mut b = bytes.clone();
        b[0] = 3;
        assert!(matches!(read_header(&mut b.as_slice(), None), Err(Error::Malformed(_))));
        let mut b = bytes.clone();
        b[1] = 0x99;
        assert!(matches!(read_header(&mut b.as_slice(), None), Err(Error::UnknownSuite(_))));
        // v1 suite inside a v2 header
        let mut b = bytes.clone();
        b[1..3].copy_from_slice(&0x0178u16.to_be_bytes());
        assert!(matches!(read_header(&mut b.as_slice(), None), Err(Error::Malformed(_))));
    }
}
