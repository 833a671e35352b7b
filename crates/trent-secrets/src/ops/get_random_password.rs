use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub password_length: Option<i64>,
    pub exclude_characters: Option<String>,
    pub exclude_numbers: Option<bool>,
    pub exclude_punctuation: Option<bool>,
    pub exclude_uppercase: Option<bool>,
    pub exclude_lowercase: Option<bool>,
    pub include_space: Option<bool>,
    pub require_each_included_type: Option<bool>,
}

/// No `Debug`: it holds a password.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub random_password: zeroize::Zeroizing<String>,
}

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A uniformly random index below `n` from the CSPRNG (rejection sampling, no modulo bias).
fn below(n: usize) -> Result<usize, SmError> {
    let n32 = n as u32;
    let zone = u32::MAX - (u32::MAX % n32);
    loop {
        let mut b = [0u8; 4];
        trent_crypto::fill_random(&mut b).map_err(SmError::internal)?;
        let x = u32::from_le_bytes(b);
        if x < zone {
            return Ok((x % n32) as usize);
        }
    }
}

pub fn handle(_sm: &SecretsManager, _caller: &Caller, req: Request) -> Result<Response, SmError> {
    Ok(Response { random_password: generate(req)? })
}

/// A password by GetRandomPassword's rules (also what the built-in rotators set).
pub(crate) fn generate(req: Request) -> Result<zeroize::Zeroizing<String>, SmError> {
    let mut v = Validator::new();
    v.range("passwordLength", req.password_length, 1, 4096).len(
        "excludeCharacters",
        req.exclude_characters.as_deref(),
        0,
        4096,
    );
    v.finish()?;
    let len = req.password_length.unwrap_or(32) as usize;
    let exclude = req.exclude_characters.unwrap_or_default();
    let keep = |set: &str| -> Vec<char> { set.chars().filter(|c| !exclude.contains(*c)).collect() };
    let mut sets: Vec<Vec<char>> = Vec::new();
    if req.exclude_lowercase != Some(true) {
        sets.push(keep("abcdefghijklmnopqrstuvwxyz"));
    }
    if req.exclude_uppercase != Some(true) {
        sets.push(keep("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    }
    if req.exclude_numbers != Some(true) {
        sets.push(keep("0123456789"));
    }
    if req.exclude_punctuation != Some(true) {
        sets.push(keep(PUNCTUATION));
    }
    sets.retain(|s| !s.is_empty());
    // A space may appear, but is not one of the kinds RequireEachIncludedType insists on.
    let space = if req.include_space == Some(true) { keep(" ") } else { Vec::new() };
    let all: Vec<char> = sets.iter().flatten().chain(space.iter()).copied().collect();
    if all.is_empty() {
        return Err(SmError::InvalidParameter("No characters are left to build a password from.".into()));
    }
    let require_each = req.require_each_included_type != Some(false);
    if require_each && len < sets.len() {
        return Err(SmError::InvalidParameter(format!(
            "The password length {len} is too short to include a character of each of the {} required types.",
            sets.len()
        )));
    }
    let mut chars: Vec<char> = Vec::with_capacity(len);
    if require_each {
        for s in &sets {
            chars.push(s[below(s.len())?]);
        }
    }
    while chars.len() < len {
        chars.push(all[below(all.len())?]);
    }
    for i in (1..chars.len()).rev() {
        let j = below(i + 1)?;
        chars.swap(i, j);
    }
    Ok(zeroize::Zeroizing::new(chars.into_iter().collect()))
}
