//! Audit trail lines (`trent audit verify`, the start-up chain check): one line through
//! `parse_line` / `line_head`, and the input split into lines through the chain verifier.
//! Typed errors only; a line that parses must carry the hash it was sealed with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_crypto::audit::{line_head, parse_line, ChainVerifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = parse_line(text) {
        let head = line_head(text).expect("a line that parses has a head");
        assert_eq!((head.seq, &head.hash), (v.seq, &v.hash));
    }
    let mut chain = ChainVerifier::new(None);
    for line in text.split_inclusive('\n').take(256) {
        if chain.feed(line).is_err() {
            break;
        }
    }
    let _ = chain.finish();
});
