//! A caching materials manager: reuses data keys within limits so bulk jobs make few KMS calls.

use crate::context;
use crate::error::{Error, Result};
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest, MaterialsManager,
};
use aws_lc_rs::digest;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits on one cached data key, as the SDK's caching CMM defines them.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// How long an entry may be used after it was created.
    pub max_age: Duration,
    /// How many messages one data key may encrypt.
    pub max_messages: u64,
    /// How many plaintext bytes one data key may encrypt.
    pub max_bytes: u64,
    /// How many entries the cache holds (oldest evicted first).
    pub capacity: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits { max_age: Duration::from_secs(300), max_messages: 1 << 32, max_bytes: u64::MAX, capacity: 100 }
    }
}

struct EncEntry {
    materials: EncryptionMaterials,
    created: Instant,
    messages: u64,
    bytes: u64,
}

struct DecEntry {
    materials: DecryptionMaterials,
    created: Instant,
}

#[derive(Default)]
struct State {
    enc: HashMap<Vec<u8>, EncEntry>,
    dec: HashMap<Vec<u8>, DecEntry>,
}

/// Wraps another materials manager and caches what it returns.
pub struct CachingCmm<M> {
    inner: M,
    limits: CacheLimits,
    partition: Vec<u8>,
    state: Mutex<State>,
}

impl<M: MaterialsManager> CachingCmm<M> {
    pub fn new(inner: M, limits: CacheLimits) -> Result<Self> {
        if limits.max_age.is_zero() || limits.max_messages == 0 || limits.capacity == 0 {
            return Err(Error::InvalidArgument("cache max age, max messages and capacity must be positive".into()));
        }
        if limits.max_messages > 1 << 32 {
            return Err(Error::InvalidArgument("max messages per data key may not exceed 2^32".into()));
        }
        let mut partition = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut partition).map_err(|_| Error::Crypto("random number generator"))?;
        Ok(CachingCmm { inner, limits, partition, state: Mutex::new(State::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enc_key(&self, r: &EncryptionRequest) -> Result<Vec<u8>> {
        let mut c = digest::Context::new(&digest::SHA512);
        c.update(&self.partition);
        c.update(&r.suite.map(|s| s.id).unwrap_or(0).to_be_bytes());
        c.update(&[r.commitment_policy as u8]);
        c.update(digest::digest(&digest::SHA512, &context::serialize(&r.encryption_context)?).as_ref());
        Ok(c.finish().as_ref().to_vec())
    }

    fn dec_key(&self, r: &DecryptionRequest) -> Result<Vec<u8>> {
        let mut c = digest::Context::new(&digest::SHA512);
        c.update(&self.partition);
        c.update(&r.suite.id.to_be_bytes());
        let mut edks: Vec<Vec<u8>> = r
            .encrypted_data_keys
            .iter()
            .map(|e| {
                let mut d = digest::Context::new(&digest::SHA512);
                for part in [e.provider_id.as_bytes(), &e.provider_info, &e.ciphertext] {
                    d.update(&(part.len() as u64).to_be_bytes());
                    d.update(part);
                }
                d.finish().as_ref().to_vec()
            })
            .collect();
        edks.sort();
        for e in &edks {
            c.update(e);
        }
        c.update(digest::digest(&digest::SHA512, &context::serialize(&r.encryption_context)?).as_ref());
        Ok(c.finish().as_ref().to_vec())
    }

    fn evict_oldest<V>(map: &mut HashMap<Vec<u8>, V>, created: impl Fn(&V) -> Instant, capacity: usize) {
        while map.len() >= capacity {
            let Some(oldest) = map.iter().min_by_key(|(_, v)| created(v)).map(|(k, _)| k.clone()) else { break };
            map.remove(&oldest);
        }
    }
}

impl<M: MaterialsManager> MaterialsManager for CachingCmm<M> {
    fn encryption_materials(&self, r: &EncryptionRequest) -> Result<EncryptionMaterials> {
        // Without a known length the byte limit cannot be enforced: do not cache.
        let Some(len) = r.plaintext_length else { return self.inner.encryption_materials(r) };
        let key = self.enc_key(r)?;
        {
            let mut st = self.lock();
            if let Some(e) = st.enc.get_mut(&key) {
                let fresh = e.created.elapsed() < self.limits.max_age;
                if fresh
                    && e.messages < self.limits.max_messages
                    && e.bytes.saturating_add(len) <= self.limits.max_bytes
                {
                    e.messages += 1;
                    e.bytes += len;
                    return Ok(e.materials.clone());
                }
                st.enc.remove(&key);
            }
        }
        let m = self.inner.encryption_materials(r)?;
        if len <= self.limits.max_bytes {
            let mut st = self.lock();
            Self::evict_oldest(&mut st.enc, |e| e.created, self.limits.capacity);
            st.enc.insert(key, EncEntry { materials: m.clone(), created: Instant::now(), messages: 1, bytes: len });
        }
        Ok(m)
    }

    fn decryption_materials(&self, r: &DecryptionRequest) -> Result<DecryptionMaterials> {
        let key = self.dec_key(r)?;
        {
            let mut st = self.lock();
            if let Some(e) = st.dec.get(&key) {
                if e.created.elapsed() < self.limits.max_age {
                    return Ok(e.materials.clone());
                }
                st.dec.remove(&key);
            }
        }
        let m = self.inner.decryption_materials(r)?;
        let mut st = self.lock();
        Self::evict_oldest(&mut st.dec, |e| e.created, self.limits.capacity);
        st.dec.insert(key, DecEntry { materials: m.clone(), created: Instant::now() });
        Ok(m)
    }
}
