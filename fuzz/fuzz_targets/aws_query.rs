//! awsQuery form bodies (IAM, STS): decoding, then every accessor the actions use, on every
//! name the body holds. Typed errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = trent_wire::query::decode(data) {
        let _ = trent_wire::query::Params::decode(data);
        let p = &req.params;
        let names: Vec<String> = p.names().map(str::to_string).collect();
        for n in names.iter().take(64) {
            let _ = p.get(n);
            let _ = p.required(n);
            let _ = p.list(n);
            let _ = p.map(n);
            if let Ok(structs) = p.structs(n) {
                for s in structs.iter().take(8) {
                    let _ = s.names().count();
                }
            }
            let _ = p.under(n);
        }
    }
});
