//! Streaming encryption and decryption of whole messages: header, framed body, footer.
//!
//! Memory is bounded by a few batches of frames (see `pipeline.rs`): encryption reads plaintext
//! straight into the frames' slots of a batch, seals the frames on every core and writes batches
//! in order; decryption reads a batch, opens its frames on every core (each frame's tag verified
//! before anything of the batch is written) and writes the plaintext in order. For signed suites
//! the footer signature is checked after the last frame; callers that must not release unverified
//! plaintext (the CLI) write to a temporary file and keep it only when [`decrypt_stream`] returns `Ok`.

use crate::context::{self, EncryptionContext};
use crate::error::{Error, Result};
use crate::header::{read_header, read_into, ContentType, Header};
use crate::materials::{
    DataKey, DecryptionRequest, EncryptionMaterials, EncryptionRequest, MaterialsManager, SigningKey,
};
use crate::pipeline::{self, HashAt, Job, Tuning};
use crate::suite::{AlgorithmSuite, CommitmentPolicy, COMMITMENT_LEN, IV_LEN, TAG_LEN};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{digest, hkdf};
use std::io::{IoSlice, IoSliceMut, Read, Write};
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

/// The footer's ECDSA signature (DER) over the message digest, with the public key the header's
/// encryption context carries (`aws-crypto-public-key`: a compressed point).
pub(crate) fn verify_footer_signature(
    alg: &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm,
    public: &[u8],
    digest: &digest::Digest,
    signature: &[u8],
) -> Result<()> {
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, public)
        .verify_digest(digest, signature)
        .map_err(|_| Error::SignatureInvalid)
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
pub fn encrypt_stream<R: Read, W: Write + Send>(
    cmm: &dyn MaterialsManager,
    opts: &EncryptOptions,
    input: R,
    output: W,
) -> Result<EncryptSummary> {
    encrypt_stream_tuned(&Tuning::default(), cmm, opts, input, output)
}

pub(crate) fn encrypt_stream_tuned<R: Read, W: Write + Send>(
    tuning: &Tuning,
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
    let plaintext_bytes = if frame_len + REGULAR_OVERHEAD <= MAX_PARALLEL_STRIDE {
        encrypt_body_batched(tuning, opts, &mut input, &mut out, &key, &message_id)?
    } else {
        encrypt_body_one_frame_at_a_time(opts, &mut input, &mut out, &key, &message_id)?
    };
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

/// Regular frame: sequence number and IV before the content, tag after it.
const REGULAR_HEADER: usize = 4 + IV_LEN;
const REGULAR_OVERHEAD: usize = REGULAR_HEADER + TAG_LEN;
/// Final frame: marker, sequence number, IV and content length before the content.
const FINAL_HEADER: usize = 4 + 4 + IV_LEN + 4;
/// Batch buffers hold whole frames plus this much, so a final frame fits in a regular frame's slot.
const FINAL_SLACK: usize = FINAL_HEADER - REGULAR_HEADER;
/// Frames (with their overhead) up to this size go through the batched, parallel pipeline; longer
/// ones are processed one at a time so memory stays one frame.
const MAX_PARALLEL_STRIDE: usize = (4 << 20) + REGULAR_OVERHEAD;

fn io_err(e: std::io::Error) -> Error {
    Error::Io(e)
}

/// Reads plaintext straight into the content slots of a batch buffer (one `readv` per batch on a
/// file): no copy, whatever the frame length. Returns the bytes read (short only at end of input).
fn read_into_slots<R: Read>(r: &mut R, buf: &mut [u8], stride: usize, frame_len: usize) -> Result<usize> {
    let count = (buf.len() - FINAL_SLACK) / stride;
    let mut slots: Vec<IoSliceMut<'_>> = buf
        .chunks_mut(stride)
        .take(count)
        .map(|c| IoSliceMut::new(&mut c[REGULAR_HEADER..REGULAR_HEADER + frame_len]))
        .collect();
    let mut rest = &mut slots[..];
    let mut n = 0;
    while !rest.is_empty() {
        match r.read_vectored(rest) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                IoSliceMut::advance_slices(&mut rest, k);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(n)
}

/// Writes every slice (one `writev` per batch on a file, plain writes elsewhere).
fn write_all_slices<W: Write + ?Sized>(w: &mut W, mut slices: &mut [IoSlice<'_>]) -> Result<()> {
    while !slices.is_empty() {
        match w.write_vectored(slices) {
            Ok(0) => return Err(io_err(std::io::ErrorKind::WriteZero.into())),
            Ok(k) => IoSlice::advance_slices(&mut slices, k),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(())
}

/// Seals the frames of one batch in place: regular frames at `i * stride`, and the final frame
/// (content already moved to its place by the reader) after them.
fn seal_batch(key: &LessSafeKey, message_id: &[u8], stride: usize, job: &mut Job) {
    let frame_len = stride - REGULAR_OVERHEAD;
    let mut aad = Vec::with_capacity(message_id.len() + 48);
    for i in 0..job.frames {
        let seq = job.first_seq + i as u32;
        let f = &mut job.buf[i * stride..(i + 1) * stride];
        let iv = frame_iv(seq);
        f[..4].copy_from_slice(&seq.to_be_bytes());
        f[4..REGULAR_HEADER].copy_from_slice(&iv);
        let (content, tag_out) = f[REGULAR_HEADER..].split_at_mut(frame_len);
        let aad = body_aad(&mut aad, message_id, BODY_AAD_FRAME, seq, frame_len as u64);
        match key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), content) {
            Ok(tag) => tag_out.copy_from_slice(tag.as_ref()),
            Err(_) => {
                job.result = Err((i, Error::Crypto("AES-GCM")));
                return;
            }
        }
    }
    let mut end = job.frames * stride;
    if let Some(len) = job.final_len {
        let seq = job.first_seq + job.frames as u32;
        let f = &mut job.buf[end..end + FINAL_HEADER + len + TAG_LEN];
        let iv = frame_iv(seq);
        f[..4].copy_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
        f[4..8].copy_from_slice(&seq.to_be_bytes());
        f[8..8 + IV_LEN].copy_from_slice(&iv);
        f[8 + IV_LEN..FINAL_HEADER].copy_from_slice(&(len as u32).to_be_bytes());
        let (content, tag_out) = f[FINAL_HEADER..].split_at_mut(len);
        let aad = body_aad(&mut aad, message_id, BODY_AAD_FINAL_FRAME, seq, len as u64);
        match key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), content) {
            Ok(tag) => tag_out.copy_from_slice(tag.as_ref()),
            Err(_) => {
                job.result = Err((job.frames, Error::Crypto("AES-GCM")));
                return;
            }
        }
        end += FINAL_HEADER + len + TAG_LEN;
    }
    job.hash_len = end;
}

/// The framed body in batches: large reads and writes, frames sealed on every core.
fn encrypt_body_batched<R: Read, W: Write + Send>(
    tuning: &Tuning,
    opts: &EncryptOptions,
    input: &mut R,
    out: &mut Out<W>,
    key: &LessSafeKey,
    message_id: &[u8],
) -> Result<u64> {
    let frame_len = opts.frame_length as usize;
    let stride = frame_len + REGULAR_OVERHEAD;
    let per_batch = tuning.frames_per_batch(stride);
    // The first batch is sized for the declared plaintext when it is small.
    let first = match opts.plaintext_length {
        Some(l) => (l / frame_len as u64 + 1).min(per_batch as u64) as usize,
        None => tuning.first_frames.min(per_batch),
    };
    let mut next_seq: u64 = 1;
    let mut plaintext_bytes: u64 = 0;
    let produce = |job: &mut Job| -> Result<bool> {
        let count = (job.buf.len() - FINAL_SLACK) / stride;
        let n = read_into_slots(input, &mut job.buf, stride, frame_len)?;
        if let Some(limit) = opts.plaintext_length {
            if plaintext_bytes + n as u64 > limit {
                return Err(Error::InvalidArgument("the input is longer than the declared plaintext length".into()));
            }
        }
        plaintext_bytes += n as u64;
        // A full batch holds regular frames only; a short one ends with the final frame (possibly
        // empty). So a plaintext that is an exact multiple of the frame length ends with an empty
        // final frame, as the official SDKs write it (the Python SDK refuses a full-length final frame).
        let is_last = n < count * frame_len;
        let frames = if is_last { n / frame_len } else { count };
        if is_last {
            let rest = n % frame_len;
            let at = frames * stride;
            job.buf.copy_within(at + REGULAR_HEADER..at + REGULAR_HEADER + rest, at + FINAL_HEADER);
            job.final_len = Some(rest);
        }
        let used = frames as u64 + u64::from(is_last);
        if next_seq + used > u64::from(FINAL_FRAME_MARKER) {
            return Err(Error::InvalidArgument("plaintext needs more than 2^32-1 frames".into()));
        }
        job.first_seq = next_seq as u32;
        job.frames = frames;
        next_seq += used;
        Ok(is_last)
    };
    let work = |job: &mut Job| seal_batch(key, message_id, stride, job);
    let mut written = 0u64;
    let w = &mut out.w;
    let consume = |job: &mut Job| -> Result<()> {
        if let Err((_, e)) = std::mem::replace(&mut job.result, Ok(())) {
            return Err(e);
        }
        w.write_all(&job.buf[..job.hash_len]).map_err(io_err)?;
        written += job.hash_len as u64;
        Ok(())
    };
    let first_len = first * stride + FINAL_SLACK;
    let batch_len = per_batch * stride + FINAL_SLACK;
    let digest = out.digest.take();
    out.digest = pipeline::run(tuning, first_len, batch_len, digest, HashAt::After, produce, work, consume)?;
    out.count += written;
    Ok(plaintext_bytes)
}

/// The framed body one frame at a time (frames longer than [`MAX_PARALLEL_STRIDE`]).
fn encrypt_body_one_frame_at_a_time<R: Read, W: Write>(
    opts: &EncryptOptions,
    input: &mut R,
    out: &mut Out<W>,
    key: &LessSafeKey,
    message_id: &[u8],
) -> Result<u64> {
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
        // A full chunk is a regular frame; a short one (possibly empty) is the final frame.
        let n = read_chunk(input, &mut cur, frame_len)?;
        let is_final = n < frame_len;
        if let Some(limit) = opts.plaintext_length {
            if plaintext_bytes + n as u64 > limit {
                return Err(Error::InvalidArgument("the input is longer than the declared plaintext length".into()));
            }
        }
        write_frame(out, key, &mut aad, message_id, sequence, &mut cur, is_final)?;
        plaintext_bytes += n as u64;
        if is_final {
            return Ok(plaintext_bytes);
        }
        sequence = sequence
            .checked_add(1)
            .filter(|s| *s != FINAL_FRAME_MARKER)
            .ok_or_else(|| Error::InvalidArgument("plaintext needs more than 2^32-1 frames".into()))?;
    }
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

/// What [`decrypt_frames_batched`] did.
struct Batched {
    next_sequence: u32,
    plaintext_bytes: u64,
    /// Bytes read past the last regular frame handled: the final frame, the footer, or a frame
    /// that is not what it should be (the one-frame-at-a-time path reports it as before).
    tail: Vec<u8>,
    digest: Option<digest::Context>,
}

/// Opens the regular frames of one batch in place; stops at the first that fails.
fn open_batch(key: &LessSafeKey, message_id: &[u8], stride: usize, job: &mut Job) {
    let frame_len = stride - REGULAR_OVERHEAD;
    let mut aad = Vec::with_capacity(message_id.len() + 48);
    for i in 0..job.frames {
        let seq = job.first_seq + i as u32;
        let f = &mut job.buf[i * stride..(i + 1) * stride];
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&f[4..REGULAR_HEADER]);
        let aad = body_aad(&mut aad, message_id, BODY_AAD_FRAME, seq, frame_len as u64);
        if key.open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut f[REGULAR_HEADER..]).is_err() {
            job.result = Err((i, Error::BodyAuthentication { sequence: seq }));
            return;
        }
    }
}

/// The regular frames of a framed body in batches: one large read per batch, frames opened on
/// every core, the plaintext of verified frames written with one vectored write per batch.
/// Stops (without error) at the first frame that is not a well-formed regular frame in sequence:
/// the final frame, a truncation, a wrong sequence number or IV.
#[allow(clippy::too_many_arguments)]
fn decrypt_frames_batched<R: Read, W: Write + Send>(
    tuning: &Tuning,
    input: &mut R,
    digest: Option<digest::Context>,
    key: &LessSafeKey,
    message_id: &[u8],
    stride: usize,
    strict_iv: bool,
    output: &mut W,
) -> Result<Batched> {
    let frame_len = stride - REGULAR_OVERHEAD;
    let per_batch = tuning.frames_per_batch(stride);
    let first = tuning.first_frames.min(per_batch);
    let mut expected: u32 = 1;
    let mut tail = Vec::new();
    let produce = |job: &mut Job| -> Result<bool> {
        let count = (job.buf.len() - FINAL_SLACK) / stride;
        let n = fill(input, &mut job.buf[..count * stride])?;
        job.first_seq = expected;
        let mut i = 0;
        while (i + 1) * stride <= n && expected < FINAL_FRAME_MARKER - 1 {
            let f = &job.buf[i * stride..(i + 1) * stride];
            let seq = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            if seq != expected || (strict_iv && f[4..REGULAR_HEADER] != frame_iv(seq)) {
                break;
            }
            i += 1;
            expected += 1;
        }
        job.frames = i;
        job.hash_len = i * stride;
        let is_last = i < count;
        if is_last {
            tail = job.buf[i * stride..n].to_vec();
        }
        Ok(is_last)
    };
    let work = |job: &mut Job| open_batch(key, message_id, stride, job);
    let mut plaintext_bytes = 0u64;
    let consume = |job: &mut Job| -> Result<()> {
        let (done, err) = match std::mem::replace(&mut job.result, Ok(())) {
            Ok(()) => (job.frames, None),
            Err((k, e)) => (k, Some(e)),
        };
        let mut slices: Vec<IoSlice<'_>> = job
            .buf
            .chunks(stride)
            .take(done)
            .map(|f| IoSlice::new(&f[REGULAR_HEADER..REGULAR_HEADER + frame_len]))
            .collect();
        write_all_slices(output, &mut slices)?;
        plaintext_bytes += (done * frame_len) as u64;
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    };
    let first_len = first * stride + FINAL_SLACK;
    let batch_len = per_batch * stride + FINAL_SLACK;
    let digest = pipeline::run(tuning, first_len, batch_len, digest, HashAt::Before, produce, work, consume)?;
    Ok(Batched { next_sequence: expected, plaintext_bytes, tail, digest })
}

/// Decrypts one message from `input`, writing plaintext to `output` one verified frame at a time.
/// Returns `Ok` only when the whole message (and its signature, for signed suites) verified.
pub fn decrypt_stream<R: Read, W: Write + Send>(
    cmm: &dyn MaterialsManager,
    opts: &DecryptOptions,
    input: R,
    output: W,
) -> Result<DecryptSummary> {
    decrypt_stream_tuned(&Tuning::default(), cmm, opts, input, output)
}

pub(crate) fn decrypt_stream_tuned<R: Read, W: Write + Send>(
    tuning: &Tuning,
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
    // From here the body is read through a chain: bytes the batched reader took past the last
    // regular frame it handled (the final frame, the footer) are put back in front of the input.
    let In { r: input, digest } = r;
    let mut r = In { r: std::io::Cursor::new(Vec::new()).chain(input), digest };
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
            let stride = header.frame_length as usize + REGULAR_OVERHEAD;
            if stride <= MAX_PARALLEL_STRIDE {
                let (cursor, input) = r.r.get_mut();
                let b =
                    decrypt_frames_batched(tuning, input, r.digest.take(), &key, mid, stride, strict_iv, &mut output)?;
                *cursor = std::io::Cursor::new(b.tail);
                r.digest = b.digest;
                expected = b.next_sequence;
                plaintext_bytes += b.plaintext_bytes;
            }
            // The final frame, and whatever the batched reader did not take (or any frame when
            // frames are too long to batch), one frame at a time.
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
        verify_footer_signature(alg, public, &d.finish(), &buf)?;
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
