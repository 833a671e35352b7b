//! Streaming encryption and decryption of whole messages: header, framed body, footer.
//!
//! Memory is bounded by one frame: encryption holds one frame of plaintext, decryption holds one
//! frame, verifies its tag and only then writes its plaintext. For signed suites the footer signature
//! is checked after the last frame; callers that must not release unverified plaintext (the CLI)
//! write to a temporary file and keep it only when [`decrypt_stream`] returns `Ok`.

use crate::context::{self, EncryptionContext};
use crate::error::{Error, Result};
use crate::header::{read_header, read_into, ContentType, Header};
use crate::materials::{
    DataKey, DecryptionRequest, EncryptionMaterials, EncryptionRequest, MaterialsManager, SigningKey,
};
use crate::suite::{AlgorithmSuite, CommitmentPolicy, COMMITMENT_LEN, IV_LEN, TAG_LEN};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{digest, hkdf};
use std::io::{Read, Write};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The frame length used when the caller names none.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;
/// The SDK's limit on a frame's length.
pub const MAX_FRAME_LENGTH: u32 = i32::MAX as u32;

const BODY_AAD_NON_FRAMED: &[u8] = b"AWSKMSEncryptionClient Single Block";
const BODY_AAD_FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const BODY_AAD_FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;

/// Options for [`encrypt_stream`].
#[derive(Clone, Debug)]
pub struct EncryptOptions {
    pub encryption_context: EncryptionContext,
    /// The suite; `None` picks the policy's default (0x0578, or 0x0378 under FORBID_ENCRYPT_ALLOW_DECRYPT).
    pub suite: Option<&'static AlgorithmSuite>,
    pub frame_length: u32,
    pub commitment_policy: CommitmentPolicy,
    pub max_encrypted_data_keys: Option<usize>,
    /// The plaintext length when known in advance (lets the caching CMM cache; longer input is refused).
    pub plaintext_length: Option<u64>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            encryption_context: EncryptionContext::new(),
            suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            plaintext_length: None,
        }
    }
}

/// Options for [`decrypt_stream`].
#[derive(Clone, Debug)]
pub struct DecryptOptions {
    pub commitment_policy: CommitmentPolicy,
    /// Refuse messages with more encrypted data keys than this.
    pub max_encrypted_data_keys: Option<usize>,
    /// Pairs the message's encryption context must contain (with these values).
    pub required_encryption_context: EncryptionContext,
    /// Largest frame (or non-framed body) held in memory, to bound memory against hostile headers.
    pub max_body_chunk: u64,
}

impl Default for DecryptOptions {
    fn default() -> Self {
        DecryptOptions {
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            required_encryption_context: EncryptionContext::new(),
            max_body_chunk: 256 * 1024 * 1024,
        }
    }
}

/// What a finished encryption produced.
#[derive(Clone, Debug)]
pub struct EncryptSummary {
    pub suite: &'static AlgorithmSuite,
    pub message_id: Vec<u8>,
    pub encryption_context: EncryptionContext,
    pub plaintext_bytes: u64,
    pub ciphertext_bytes: u64,
}

/// What a finished (fully verified) decryption produced.
#[derive(Clone, Debug)]
pub struct DecryptSummary {
    pub suite: &'static AlgorithmSuite,
    pub message_id: Vec<u8>,
    pub encryption_context: EncryptionContext,
    /// True when the suite is signed and the footer signature verified.
    pub signature_verified: bool,
    pub plaintext_bytes: u64,
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_bytes(alg: hkdf::Algorithm, salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    hkdf::Salt::new(alg, salt)
        .extract(ikm)
        .expand(&[info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| Error::Crypto("HKDF"))?;
    Ok(out)
}

/// The content encryption key and (v2) the commitment key for one message.
pub(crate) fn derive_keys(
    suite: &'static AlgorithmSuite,
    data_key: &DataKey,
    message_id: &[u8],
) -> Result<(LessSafeKey, Option<Zeroizing<Vec<u8>>>)> {
    let (key, commitment) = match suite.hkdf() {
        None => (Zeroizing::new(data_key.as_bytes().to_vec()), None),
        Some(alg) if suite.committing => {
            let mut info = suite.id.to_be_bytes().to_vec();
            info.extend_from_slice(b"DERIVEKEY");
            let k = hkdf_bytes(alg, message_id, data_key.as_bytes(), &info, suite.key_len)?;
            let c = hkdf_bytes(alg, message_id, data_key.as_bytes(), b"COMMITKEY", COMMITMENT_LEN)?;
            (k, Some(c))
        }
        Some(alg) => {
            let mut info = suite.id.to_be_bytes().to_vec();
            info.extend_from_slice(message_id);
            (hkdf_bytes(alg, &[], data_key.as_bytes(), &info, suite.key_len)?, None)
        }
    };
    let k = UnboundKey::new(suite.aead(), &key).map_err(|_| Error::Crypto("AES key setup"))?;
    Ok((LessSafeKey::new(k), commitment))
}

fn frame_iv(sequence: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[IV_LEN - 4..].copy_from_slice(&sequence.to_be_bytes());
    iv
}

/// The body AAD: message id || content kind || sequence number (u32) || content length (u64).
/// Written into a reused buffer: no allocation per frame.
fn body_aad<'a>(aad: &'a mut Vec<u8>, message_id: &[u8], kind: &[u8], sequence: u32, len: u64) -> &'a [u8] {
    aad.clear();
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(kind);
    aad.extend_from_slice(&sequence.to_be_bytes());
    aad.extend_from_slice(&len.to_be_bytes());
    aad
}

/// A writer that hashes what it writes (for the footer signature) and counts bytes.
struct Out<W> {
    w: W,
    digest: Option<digest::Context>,
    count: u64,
}

impl<W: Write> Out<W> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(d) = &mut self.digest {
            d.update(bytes);
        }
        self.w.write_all(bytes)?;
        self.count += bytes.len() as u64;
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
fn fill<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// Replaces `buf` with up to `max` bytes of input; returns how many were read.
fn read_chunk<R: Read>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
    if buf.capacity() >= max {
        // Steady state: the buffer already spans a frame; no zeroing, no growth.
        buf.resize(max, 0);
        let n = fill(r, buf)?;
        buf.truncate(n);
    } else {
        buf.clear();
        r.by_ref().take(max as u64).read_to_end(buf)?;
    }
    Ok(buf.len())
}

/// Encrypts `input` into one message written to `output`.
pub fn encrypt_stream<R: Read, W: Write>(
    cmm: &dyn MaterialsManager,
    opts: &EncryptOptions,
    mut input: R,
    output: W,
) -> Result<EncryptSummary> {
    if opts.frame_length == 0 || opts.frame_length > MAX_FRAME_LENGTH {
        return Err(Error::InvalidArgument(format!(
            "frame length {} is out of range 1..={MAX_FRAME_LENGTH} (non-framed messages are read, not written)",
            opts.frame_length
        )));
    }
    if let Some(s) = opts.suite {
        opts.commitment_policy.check_encrypt(s)?;
    }
    let request = EncryptionRequest {
        encryption_context: opts.encryption_context.clone(),
        suite: opts.suite,
        plaintext_length: opts.plaintext_length,
        commitment_policy: opts.commitment_policy,
    };
    let m: EncryptionMaterials = cmm.encryption_materials(&request)?;
    let suite = m.suite;
    opts.commitment_policy.check_encrypt(suite)?;
    if let Some(max) = opts.max_encrypted_data_keys {
        if m.encrypted_data_keys.len() > max {
            return Err(Error::TooManyEncryptedDataKeys { max, found: m.encrypted_data_keys.len() });
        }
    }
    let data_key = m.plaintext_data_key.as_ref().ok_or_else(|| Error::Keyring("no data key".into()))?;
    let mut message_id = vec![0u8; suite.message_id_len()];
    aws_lc_rs::rand::fill(&mut message_id).map_err(|_| Error::Crypto("random number generator"))?;
    let (key, commitment) = derive_keys(suite, data_key, &message_id)?;
    let header = Header {
        version: suite.message_version(),
        suite,
        message_id: message_id.clone(),
        encryption_context: m.encryption_context.clone(),
        encrypted_data_keys: m.encrypted_data_keys.clone(),
        content_type: ContentType::Framed,
        frame_length: opts.frame_length,
        commitment: commitment.map(|c| {
            let mut a = [0u8; COMMITMENT_LEN];
            a.copy_from_slice(&c);
            a
        }),
    };
    let header_bytes = header.serialize()?;
    let signer = match (&m.signing_key, suite.signing_alg()) {
        (Some(SigningKey(pkcs8)), Some(alg)) => {
            Some(aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| Error::Crypto("ECDSA key"))?)
        }
        (None, Some(_)) => return Err(Error::Keyring("signed suite without a signing key".into())),
        _ => None,
    };
    let mut out = Out { w: output, digest: suite.signing_digest().map(digest::Context::new), count: 0 };
    out.put(&header_bytes)?;
    let mut auth = Vec::new();
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key([0u8; IV_LEN]), Aad::from(&header_bytes), &mut auth)
        .map_err(|_| Error::Crypto("AES-GCM"))?;
    if header.version == 1 {
        out.put(&[0u8; IV_LEN])?;
    }
    out.put(tag.as_ref())?;

    let frame_len = opts.frame_length as usize;
    // Buffers sized for one frame, or for the declared plaintext when it is smaller (a huge frame
    // length on a small file must not allocate the frame length).
    let cap = match opts.plaintext_length {
        Some(l) => l.saturating_add(1).min(frame_len as u64) as usize,
        None => frame_len,
    };
    let mut cur = Zeroizing::new(Vec::with_capacity(cap));
    let mut sequence: u32 = 1;
    let mut plaintext_bytes: u64 = 0;
    let mut aad = Vec::with_capacity(128);
    loop {
        // A full chunk is a regular frame; a short one (possibly empty) is the final frame. So a
        // plaintext that is an exact multiple of the frame length ends with an empty final frame,
        // as the official SDKs write it (the Python SDK refuses a final frame of the full length).
        let n = read_chunk(&mut input, &mut cur, frame_len)?;
        let is_final = n < frame_len;
        if let Some(limit) = opts.plaintext_length {
            if plaintext_bytes + n as u64 > limit {
                return Err(Error::InvalidArgument("the input is longer than the declared plaintext length".into()));
            }
        }
        write_frame(&mut out, &key, &mut aad, &message_id, sequence, &mut cur, is_final)?;
        plaintext_bytes += n as u64;
        if is_final {
            break;
        }
        sequence = sequence
            .checked_add(1)
            .filter(|s| *s != FINAL_FRAME_MARKER)
            .ok_or_else(|| Error::InvalidArgument("plaintext needs more than 2^32-1 frames".into()))?;
    }
    if let (Some(signer), Some(d)) = (signer, out.digest.take()) {
        let sig = signer.sign_digest(&d.finish()).map_err(|_| Error::Crypto("ECDSA signing"))?;
        let sig = sig.as_ref();
        out.put(&(sig.len() as u16).to_be_bytes())?;
        out.put(sig)?;
    }
    out.w.flush()?;
    Ok(EncryptSummary {
        suite,
        message_id,
        encryption_context: m.encryption_context,
        plaintext_bytes,
        ciphertext_bytes: out.count,
    })
}

fn write_frame<W: Write>(
    out: &mut Out<W>,
    key: &LessSafeKey,
    aad: &mut Vec<u8>,
    message_id: &[u8],
    sequence: u32,
    content: &mut [u8],
    is_final: bool,
) -> Result<()> {
    let iv = frame_iv(sequence);
    let kind = if is_final { BODY_AAD_FINAL_FRAME } else { BODY_AAD_FRAME };
    let aad = body_aad(aad, message_id, kind, sequence, content.len() as u64);
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), content)
        .map_err(|_| Error::Crypto("AES-GCM"))?;
    if is_final {
        out.put(&FINAL_FRAME_MARKER.to_be_bytes())?;
    }
    out.put(&sequence.to_be_bytes())?;
    out.put(&iv)?;
    if is_final {
        out.put(&(content.len() as u32).to_be_bytes())?;
    }
    out.put(content)?;
    out.put(tag.as_ref())
}

/// A reader that hashes what it reads (for the footer signature).
struct In<R> {
    r: R,
    digest: Option<digest::Context>,
}

impl<R: Read> In<R> {
    /// Replaces `buf` with the next `n` bytes. Small fields are read in place; large ones grow the
    /// buffer only as bytes arrive, so a hostile length in a truncated message allocates nothing.
    fn get(&mut self, buf: &mut Vec<u8>, n: usize, what: &'static str) -> Result<()> {
        if n <= 1 << 20 {
            buf.resize(n, 0);
            self.r.read_exact(buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::Truncated { what },
                _ => Error::Io(e),
            })?;
        } else {
            buf.clear();
            read_into(&mut self.r, buf, n, what)?;
        }
        if let Some(d) = &mut self.digest {
            d.update(buf);
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::Truncated { what },
            _ => Error::Io(e),
        })?;
        if let Some(d) = &mut self.digest {
            d.update(&b);
        }
        Ok(b)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array::<4>(what)?))
    }
}

/// Decrypts one message from `input`, writing plaintext to `output` one verified frame at a time.
/// Returns `Ok` only when the whole message (and its signature, for signed suites) verified.
pub fn decrypt_stream<R: Read, W: Write>(
    cmm: &dyn MaterialsManager,
    opts: &DecryptOptions,
    mut input: R,
    mut output: W,
) -> Result<DecryptSummary> {
    let (header, header_bytes) = read_header(&mut input, opts.max_encrypted_data_keys)?;
    let suite = header.suite;
    opts.commitment_policy.check_decrypt(suite)?;
    context::check_contains(&header.encryption_context, &opts.required_encryption_context)?;
    let request = DecryptionRequest {
        suite,
        encryption_context: header.encryption_context.clone(),
        encrypted_data_keys: header.encrypted_data_keys.clone(),
        commitment_policy: opts.commitment_policy,
    };
    let m = cmm.decryption_materials(&request)?;
    let data_key = m.plaintext_data_key.as_ref().ok_or_else(|| Error::NoDecryptableDataKey(Vec::new()))?;
    let (key, commitment) = derive_keys(suite, data_key, &header.message_id)?;
    if let (Some(expected), Some(found)) = (&commitment, &header.commitment) {
        if !bool::from(expected.as_slice().ct_eq(found.as_slice())) {
            return Err(Error::CommitmentMismatch);
        }
    }
    let mut r = In { r: input, digest: suite.signing_digest().map(digest::Context::new) };
    if let Some(d) = &mut r.digest {
        d.update(&header_bytes);
    }
    let mut buf = Vec::with_capacity(IV_LEN + TAG_LEN);
    let header_iv = if header.version == 1 {
        r.get(&mut buf, IV_LEN, "header authentication IV")?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&buf);
        iv
    } else {
        [0u8; IV_LEN]
    };
    r.get(&mut buf, TAG_LEN, "header authentication tag")?;
    let mut tag_only = buf.clone();
    key.open_in_place(Nonce::assume_unique_for_key(header_iv), Aad::from(&header_bytes), &mut tag_only)
        .map_err(|_| Error::HeaderAuthentication)?;

    // v2 writers all use deterministic IVs (the sequence number), so v2 insists on them. Version 1
    // files from SDKs released before data key caching carry random IVs: they are used as found
    // (the GCM tag still authenticates each frame; the sequence number in the AAD fixes its place).
    let strict_iv = header.version == 2;
    let mut content = Zeroizing::new(Vec::new());
    let mut plaintext_bytes = 0u64;
    let mid = &header.message_id;
    match header.content_type {
        ContentType::NonFramed => {
            let iv = r.array::<IV_LEN>("body IV")?;
            if strict_iv && iv != frame_iv(1) {
                return Err(Error::BadIv { sequence: 1 });
            }
            let mut lenb = Vec::with_capacity(8);
            r.get(&mut lenb, 8, "body content length")?;
            let len = u64::from_be_bytes(lenb[..].try_into().expect("8 bytes"));
            if len > opts.max_body_chunk {
                return Err(Error::Malformed(format!(
                    "non-framed body of {len} bytes exceeds the in-memory limit of {} bytes",
                    opts.max_body_chunk
                )));
            }
            r.get(&mut content, len as usize + TAG_LEN, "non-framed body")?;
            let mut aad = Vec::new();
            let aad = body_aad(&mut aad, mid, BODY_AAD_NON_FRAMED, 1, len);
            let n = key
                .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut content)
                .map_err(|_| Error::BodyAuthentication { sequence: 1 })?
                .len();
            output.write_all(&content[..n])?;
            plaintext_bytes += n as u64;
        }
        ContentType::Framed => {
            if header.frame_length as u64 > opts.max_body_chunk {
                return Err(Error::Malformed(format!(
                    "frame length {} exceeds the in-memory limit of {} bytes",
                    header.frame_length, opts.max_body_chunk
                )));
            }
            let mut expected: u32 = 1;
            let mut aad_buf = Vec::with_capacity(128);
            loop {
                let first = r.u32("frame sequence number")?;
                let is_final = first == FINAL_FRAME_MARKER;
                let sequence = if is_final { r.u32("final frame sequence number")? } else { first };
                if sequence != expected {
                    return Err(Error::BadSequenceNumber { expected, found: sequence });
                }
                let iv = r.array::<IV_LEN>("frame IV")?;
                if strict_iv && iv != frame_iv(sequence) {
                    return Err(Error::BadIv { sequence });
                }
                let len = if is_final {
                    let l = r.u32("final frame content length")?;
                    if l > header.frame_length {
                        return Err(Error::Malformed(format!(
                            "final frame of {l} bytes is longer than the frame length {}",
                            header.frame_length
                        )));
                    }
                    l
                } else {
                    header.frame_length
                } as usize;
                r.get(&mut content, len + TAG_LEN, if is_final { "final frame" } else { "frame" })?;
                let kind = if is_final { BODY_AAD_FINAL_FRAME } else { BODY_AAD_FRAME };
                let aad = body_aad(&mut aad_buf, mid, kind, sequence, len as u64);
                let n = key
                    .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut content)
                    .map_err(|_| Error::BodyAuthentication { sequence })?
                    .len();
                output.write_all(&content[..n])?;
                plaintext_bytes += n as u64;
                if is_final {
                    break;
                }
                expected = expected
                    .checked_add(1)
                    .filter(|s| *s != FINAL_FRAME_MARKER)
                    .ok_or_else(|| Error::Malformed("more than 2^32-1 frames".into()))?;
            }
        }
    }
    let mut signature_verified = false;
    if let (Some(d), Some(alg)) = (r.digest.take(), suite.verification_alg()) {
        let mut lenb = Vec::with_capacity(2);
        r.get(&mut lenb, 2, "footer signature length")?;
        let len = u16::from_be_bytes([lenb[0], lenb[1]]) as usize;
        r.get(&mut buf, len, "footer signature")?;
        let public = m.verification_key.as_ref().ok_or(Error::SignatureInvalid)?;
        aws_lc_rs::signature::UnparsedPublicKey::new(alg, public)
            .verify_digest(&d.finish(), &buf)
            .map_err(|_| Error::SignatureInvalid)?;
        signature_verified = true;
    }
    let mut extra = [0u8; 1];
    if fill(&mut r.r, &mut extra)? != 0 {
        return Err(Error::TrailingData);
    }
    output.flush()?;
    Ok(DecryptSummary {
        suite,
        message_id: header.message_id,
        encryption_context: header.encryption_context,
        signature_verified,
        plaintext_bytes,
    })
}

/// Encrypts a byte slice into a message.
pub fn encrypt(cmm: &dyn MaterialsManager, opts: &EncryptOptions, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut o = opts.clone();
    o.plaintext_length.get_or_insert(plaintext.len() as u64);
    let mut out = Vec::with_capacity(plaintext.len() + 1024);
    encrypt_stream(cmm, &o, plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts a whole message held in memory; returns the plaintext only when everything verified.
pub fn decrypt(
    cmm: &dyn MaterialsManager,
    opts: &DecryptOptions,
    message: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, DecryptSummary)> {
    let mut out = Zeroizing::new(Vec::with_capacity(message.len()));
    let summary = decrypt_stream(cmm, opts, message, &mut *out)?;
    Ok((out, summary))
}
