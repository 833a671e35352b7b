//! The KMS ciphertext blob: framing parser on arbitrary bytes (seeds: real blobs) (typed errors only; a blob under
//! an unknown key never opens), and seal → parse → open round trips with arbitrary key ids,
//! encryption contexts and plaintexts, where any single flipped bit must make `open` fail.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::{blob, context};

#[derive(Arbitrary, Debug)]
struct Input {
    key_id: String,
    material: [u8; 32],
    ctx: Vec<(String, String)>,
    plaintext: Vec<u8>,
    flip: Option<u16>,
}

fuzz_target!(|data: &[u8]| {
    // The bytes are a blob as they are, and the seed of a structured round trip.
    let Ok(input) = Input::arbitrary(&mut arbitrary::Unstructured::new(data)) else { return };
    let key = Aes256Gcm::new(&[7u8; 32]).unwrap();
    let ctx: BTreeMap<String, String> = input.ctx.into_iter().collect();
    let encoded = context::encode(&ctx);
    if let Ok(b) = blob::parse(data) {
        assert!(!b.key_id.is_empty() && b.key_id.len() <= blob::MAX_KEY_ID_LEN && b.key_id.is_ascii());
        let forged = blob::open(&key, &b, &encoded);
        assert!(forged.is_err(), "a fuzzer-made blob opened");
    }
    let Ok(sealed) = blob::seal(&key, &input.key_id, &input.material, &encoded, &input.plaintext) else {
        assert!(input.key_id.is_empty() || input.key_id.len() > blob::MAX_KEY_ID_LEN || !input.key_id.is_ascii());
        return;
    };
    let parsed = blob::parse(&sealed).expect("a sealed blob parses");
    assert_eq!(parsed.key_id, input.key_id);
    assert_eq!(parsed.material_id, input.material);
    let opened = blob::open(&key, &parsed, &encoded).expect("a sealed blob opens");
    assert_eq!(opened.expose(), input.plaintext.as_slice());
    if let Some(f) = input.flip {
        let bit = f as usize % (sealed.len() * 8);
        let mut bad = sealed.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        if let Ok(p) = blob::parse(&bad) {
            assert!(blob::open(&key, &p, &encoded).is_err(), "bit {bit} flipped and the blob still opened");
        }
    }
});
