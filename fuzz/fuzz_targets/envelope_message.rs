//! Any byte string given to the Encryption SDK message parser and decryptor must yield `Ok` or a
//! typed error — never a panic, an unbounded allocation or a hang. Seed the corpus with
//! `crates/trent-envelope/tests/vectors/*.bin` (their keys are the ones below).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_envelope::{decrypt, read_header, CommitmentPolicy, DecryptOptions, DefaultCmm, MultiKeyring, RawAesKeyring};

fuzz_target!(|data: &[u8]| {
    let _ = read_header(&mut &data[..], Some(16));
    let keys: Vec<Box<dyn trent_envelope::Keyring>> = vec![
        Box::new(RawAesKeyring::new("vectors-aes", "aes-128", &(0u8..16).collect::<Vec<_>>()).unwrap()),
        Box::new(RawAesKeyring::new("vectors-aes", "aes-192", &(0u8..24).collect::<Vec<_>>()).unwrap()),
        Box::new(RawAesKeyring::new("vectors-aes", "aes-256", &(0u8..32).collect::<Vec<_>>()).unwrap()),
    ];
    let cmm = DefaultCmm::new(MultiKeyring::new(None, keys).unwrap());
    let opts = DecryptOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        max_encrypted_data_keys: Some(16),
        max_body_chunk: 1 << 20,
        ..Default::default()
    };
    let _ = decrypt(&cmm, &opts, data);
});
