//! AES-256-GCM with a random 96-bit nonce per message (aws-lc-rs).

use crate::{CryptoError, SecretBytes};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

pub const KEY_LEN: usize = 32;
pub const IV_LEN: usize = NONCE_LEN;
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM key. Holds the aws-lc-rs key schedule; the raw bytes are not kept.
pub struct Aes256Gcm(LessSafeKey);

impl std::fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aes256Gcm(<redacted>)")
    }
}

impl Aes256Gcm {
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != KEY_LEN {
            return Err(CryptoError::Invalid);
        }
        let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Invalid)?;
        Ok(Aes256Gcm(LessSafeKey::new(k)))
    }

    pub fn from_secret(key: &SecretBytes) -> Result<Self, CryptoError> {
        Self::new(key.expose())
    }

    /// Encrypts `plaintext` under a fresh random IV. Returns `(iv, ciphertext || tag)`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<([u8; IV_LEN], Vec<u8>), CryptoError> {
        let mut iv = [0u8; IV_LEN];
        crate::fill_random(&mut iv)?;
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::Internal)?;
        Ok((iv, buf))
    }

    /// Decrypts and authenticates `ciphertext || tag`.
    pub fn open(&self, iv: &[u8], aad: &[u8], ciphertext_and_tag: &[u8]) -> Result<SecretBytes, CryptoError> {
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| CryptoError::Invalid)?;
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::Invalid);
        }
        let mut buf = SecretBytes::from_slice(ciphertext_and_tag);
        let n = self
            .0
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), buf.as_mut_slice())
            .map_err(|_| CryptoError::Invalid)?
            .len();
        Ok(SecretBytes::from_slice(&buf.expose()[..n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_aad() {
        let k = Aes256Gcm::new(&[7u8; 32]).unwrap();
        let (iv, ct) = k.seal(b"aad", b"hello").unwrap();
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(k.open(&iv, b"aad", &ct).unwrap().expose(), b"hello");
        assert_eq!(k.open(&iv, b"aaX", &ct).unwrap_err(), CryptoError::Invalid);
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(k.open(&iv, b"aad", &bad).unwrap_err(), CryptoError::Invalid);
    }

    #[test]
    fn rejects_wrong_key_length_and_short_ciphertext() {
        assert!(Aes256Gcm::new(&[0u8; 16]).is_err());
        let k = Aes256Gcm::new(&[1u8; 32]).unwrap();
        assert!(k.open(&[0u8; 12], b"", &[0u8; 5]).is_err());
        assert!(k.open(&[0u8; 11], b"", &[0u8; 20]).is_err());
    }

    #[test]
    fn fresh_iv_per_message() {
        let k = Aes256Gcm::new(&[2u8; 32]).unwrap();
        let (a, _) = k.seal(b"", b"x").unwrap();
        let (b, _) = k.seal(b"", b"x").unwrap();
        assert_ne!(a, b);
    }
}
