//! The KMS ciphertext blob (symmetric keys). Byte layout, version 1 (see `docs/CIPHERTEXT.md`):
//!
//! ```text
//! offset      size  field
//! 0           1     format version (0x01)
//! 1           1     L = length of the key id (1..=64)
//! 2           L     key id, ASCII (a UUID, or "mrk-" + 32 hex digits)
//! 2+L         32    key material id (raw bytes; KeyMaterialId in the API is their hex)
//! 34+L        12    AES-GCM IV
//! 46+L        n     AES-256-GCM ciphertext
//! 46+L+n      16    GCM tag
//! ```
//!
//! The AES-GCM additional data is `header (bytes 0..34+L) || context::encode(encryption context)`,
//! so the key id, the material id and the encryption context are all authenticated.
//! No account and no region are inside: the same blob decrypts under a rotated key (it names
//! its material) and under a multi-Region replica (same key id and material).

use crate::aead::{Aes256Gcm, IV_LEN, TAG_LEN};
use crate::{CryptoError, SecretBytes};

pub const VERSION: u8 = 1;
pub const MATERIAL_ID_LEN: usize = 32;
pub const MAX_KEY_ID_LEN: usize = 64;

/// A parsed blob. Parsing checks only the framing; authenticity is checked by [`open`].
#[derive(Debug, Clone)]
pub struct Blob<'a> {
    pub key_id: &'a str,
    pub material_id: [u8; MATERIAL_ID_LEN],
    header: &'a [u8],
    iv: &'a [u8],
    body: &'a [u8],
}

fn header(key_id: &str, material_id: &[u8; MATERIAL_ID_LEN]) -> Result<Vec<u8>, CryptoError> {
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN || !key_id.is_ascii() {
        return Err(CryptoError::Invalid);
    }
    let mut h = Vec::with_capacity(2 + key_id.len() + MATERIAL_ID_LEN);
    h.push(VERSION);
    h.push(key_id.len() as u8);
    h.extend_from_slice(key_id.as_bytes());
    h.extend_from_slice(material_id);
    Ok(h)
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(header.len() + context.len());
    a.extend_from_slice(header);
    a.extend_from_slice(context);
    a
}

/// Encrypts `plaintext` and frames it. `context` is the canonical encryption-context encoding.
pub fn seal(
    key: &Aes256Gcm,
    key_id: &str,
    material_id: &[u8; MATERIAL_ID_LEN],
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = header(key_id, material_id)?;
    let (iv, ct) = key.seal(&aad(&out, context), plaintext)?;
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Parses the framing of a blob without decrypting it.
pub fn parse(blob: &[u8]) -> Result<Blob<'_>, CryptoError> {
    let (&version, rest) = blob.split_first().ok_or(CryptoError::Invalid)?;
    if version != VERSION {
        return Err(CryptoError::Invalid);
    }
    let (&l, rest) = rest.split_first().ok_or(CryptoError::Invalid)?;
    let l = l as usize;
    if l == 0 || l > MAX_KEY_ID_LEN || rest.len() < l + MATERIAL_ID_LEN + IV_LEN + TAG_LEN {
        return Err(CryptoError::Invalid);
    }
    let key_id = std::str::from_utf8(&rest[..l]).map_err(|_| CryptoError::Invalid)?;
    if !key_id.is_ascii() {
        return Err(CryptoError::Invalid);
    }
    let mut material_id = [0u8; MATERIAL_ID_LEN];
    material_id.copy_from_slice(&rest[l..l + MATERIAL_ID_LEN]);
    let header_len = 2 + l + MATERIAL_ID_LEN;
    Ok(Blob {
        key_id,
        material_id,
        header: &blob[..header_len],
        iv: &blob[header_len..header_len + IV_LEN],
        body: &blob[header_len + IV_LEN..],
    })
}

/// The header and the GCM AAD of a blob whose AES-GCM runs elsewhere (in an HSM): encrypt
/// with the AAD, then [`assemble`] the header, the IV and the ciphertext || tag.
pub fn frame(
    key_id: &str,
    material_id: &[u8; MATERIAL_ID_LEN],
    context: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let h = header(key_id, material_id)?;
    let a = aad(&h, context);
    Ok((h, a))
}

/// `header || iv || ciphertext || tag`: the blob of an encryption done with [`frame`]'s AAD.
pub fn assemble(header: &[u8], iv: &[u8; IV_LEN], ciphertext_and_tag: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + IV_LEN + ciphertext_and_tag.len());
    out.extend_from_slice(header);
    out.extend_from_slice(iv);
    out.extend_from_slice(ciphertext_and_tag);
    out
}

impl Blob<'_> {
    /// The IV, for an AES-GCM done elsewhere.
    pub fn iv(&self) -> &[u8] {
        self.iv
    }
    /// Ciphertext || tag.
    pub fn body(&self) -> &[u8] {
        self.body
    }
    /// The GCM AAD for `context` (the canonical encryption-context encoding).
    pub fn aad(&self, context: &[u8]) -> Vec<u8> {
        aad(self.header, context)
    }
}

/// Decrypts a parsed blob with the key its material id names.
pub fn open(key: &Aes256Gcm, blob: &Blob<'_>, context: &[u8]) -> Result<SecretBytes, CryptoError> {
    key.open(blob.iv, &aad(blob.header, context), blob.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn layout_matches_the_documented_offsets() {
        let k = Aes256Gcm::new(&[3u8; 32]).unwrap();
        let mid = [0xAA; 32];
        let b = seal(&k, KID, &mid, b"", b"hello").unwrap();
        assert_eq!(b[0], 1);
        assert_eq!(b[1] as usize, KID.len());
        assert_eq!(&b[2..2 + 36], KID.as_bytes());
        assert_eq!(&b[38..70], &mid);
        assert_eq!(b.len(), 2 + 36 + 32 + 12 + 5 + 16);
        let p = parse(&b).unwrap();
        assert_eq!(p.key_id, KID);
        assert_eq!(open(&k, &p, b"").unwrap().expose(), b"hello");
    }

    #[test]
    fn header_and_context_are_authenticated() {
        let k = Aes256Gcm::new(&[3u8; 32]).unwrap();
        let b = seal(&k, KID, &[1; 32], b"ctx", b"hello").unwrap();
        assert!(open(&k, &parse(&b).unwrap(), b"ctX").is_err());
        for i in 0..b.len() {
            let mut t = b.clone();
            t[i] ^= 0x01;
            if let Ok(p) = parse(&t) {
                assert!(open(&k, &p, b"ctx").is_err(), "flip at byte {i} went unnoticed");
            }
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&data);
        }
    }
}
