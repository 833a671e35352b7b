//! Throughput of `encrypt_stream` / `decrypt_stream` against single-core AES-256-GCM (aws-lc-rs),
//! measured in the same run, and peak RSS. Used by `scripts/bench-envelope.sh`.
//!
//! cargo run -p trent-envelope --example throughput -- [MiB (default 1024)] [frame length (default 4096)]

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::io::{Read, Write};
use std::time::Instant;
use trent_envelope::{
    decrypt_stream, encrypt_stream, suite, DecryptOptions, DefaultCmm, EncryptOptions, RawAesKeyring,
};

struct Zeros(u64);
impl Read for Zeros {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = (b.len() as u64).min(self.0) as usize;
        b[..n].fill(0x5a);
        self.0 -= n as u64;
        Ok(n)
    }
}

struct Sink(u64);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn best_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| f()).fold(0.0, f64::max)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let frame: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let runs: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(3);
    let total = mib << 20;
    println!(
        "{mib} MiB per pass, frame {frame} bytes, best of {runs} (this machine is shared: take ratios, not absolutes)"
    );

    // Baseline 1: AES-256-GCM seal in place, one core, over chunks of the frame length.
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let mut buf = vec![0x5au8; frame as usize];
    let aes = best_of(runs, || {
        let t = Instant::now();
        let mut done = 0u64;
        let mut seq = 0u64;
        while done < total {
            let mut iv = [0u8; 12];
            iv[4..].copy_from_slice(&seq.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(&[0u8; 16]), &mut buf)
                .unwrap();
            let _ = std::hint::black_box(tag);
            done += buf.len() as u64;
            seq += 1;
        }
        mb_s(done, t.elapsed().as_secs_f64())
    });
    println!("baseline AES-256-GCM seal, {frame}-byte chunks, one core: {aes:.0} MB/s");
    // Baseline 2: SHA-384, which signed suites run over the whole message.
    let chunk = vec![0x5au8; 1 << 20];
    let sha = best_of(runs, || {
        let t = Instant::now();
        let mut d = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA384);
        for _ in 0..mib {
            d.update(&chunk);
        }
        let _ = std::hint::black_box(d.finish());
        mb_s(total, t.elapsed().as_secs_f64())
    });
    println!("baseline SHA-384, one core: {sha:.0} MB/s");

    let cmm = DefaultCmm::new(RawAesKeyring::new("bench", "k", &[1u8; 32]).unwrap());
    let dir = std::env::temp_dir().join(format!("trent-envelope-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for s in [&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384] {
        let opts = EncryptOptions { suite: Some(s), frame_length: frame, ..Default::default() };
        let enc = best_of(runs, || {
            let t = Instant::now();
            encrypt_stream(&cmm, &opts, Zeros(total), Sink(0)).unwrap();
            mb_s(total, t.elapsed().as_secs_f64())
        });
        // Decrypt from a file in the page cache (written here, outside the timing).
        let path = dir.join("msg");
        let f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        encrypt_stream(&cmm, &opts, Zeros(total), f).unwrap();
        let dec = best_of(runs, || {
            let t = Instant::now();
            let r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
            let sum = decrypt_stream(&cmm, &DecryptOptions::default(), r, Sink(0)).unwrap();
            mb_s(sum.plaintext_bytes, t.elapsed().as_secs_f64())
        });
        std::fs::remove_file(&path).unwrap();
        println!(
            "0x{:04X} {}: encrypt {enc:.0} MB/s ({:.0}% of AES-GCM), decrypt {dec:.0} MB/s ({:.0}% of AES-GCM)",
            s.id,
            s.name,
            100.0 * enc / aes,
            100.0 * dec / aes
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    println!("peak RSS: {} KiB", peak_rss_kib());
}
