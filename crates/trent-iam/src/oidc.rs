//! OpenID Connect ID tokens (JWTs) for `AssumeRoleWithWebIdentity`: the compact form parsed
//! here (base64url and JSON only), signatures verified only through aws-lc-rs (RS256,
//! ES256), against the issuer's JSON Web Key Set, which an [`OidcKeys`] fetches and caches
//! (the server implements it over HTTPS; this crate does no I/O).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where the JSON Web Key Sets of issuers come from.
pub trait OidcKeys: Send + Sync {
    /// The key set of `issuer` (`https://host/path`): the document at the `jwks_uri` of
    /// `<issuer>/.well-known/openid-configuration`, cached for its HTTP cache lifetime.
    /// `refresh` asks for a newer copy than the cached one (a token named a key id the cached
    /// set lacks); an implementation may limit how often it fetches again.
    fn jwks(&self, issuer: &str, refresh: bool) -> Result<Arc<Jwks>, String>;
}

/// The most keys of a key set used (the rest are ignored).
const MAX_KEYS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyMaterial {
    /// RSA modulus and exponent (big-endian).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point (`04 || x || y`).
    P256(Vec<u8>),
}

/// One usable signing key of a key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: KeyMaterial,
}

/// A JSON Web Key Set (RFC 7517): the RSA and P-256 signing keys it holds; keys of other
/// types or for encryption are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

fn b64(v: Option<&Value>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(v?.as_str()?.trim_end_matches('=')).ok()
}

impl Jwks {
    pub fn parse(bytes: &[u8]) -> Result<Jwks, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|_| "the key set is not JSON".to_string())?;
        let keys = v.get("keys").and_then(Value::as_array).ok_or("the key set has no \"keys\" array")?;
        let mut out = Vec::new();
        for k in keys.iter().take(MAX_KEYS) {
            if k.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
                continue;
            }
            let material = match k.get("kty").and_then(Value::as_str) {
                Some("RSA") => match (b64(k.get("n")), b64(k.get("e"))) {
                    (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => KeyMaterial::Rsa { n, e },
                    _ => continue,
                },
                Some("EC") if k.get("crv").and_then(Value::as_str) == Some("P-256") => {
                    match (b64(k.get("x")), b64(k.get("y"))) {
                        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                            let mut p = Vec::with_capacity(65);
                            p.push(4);
                            p.extend_from_slice(&x);
                            p.extend_from_slice(&y);
                            KeyMaterial::P256(p)
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            out.push(Jwk {
                kid: k.get("kid").and_then(Value::as_str).map(str::to_string),
                alg: k.get("alg").and_then(Value::as_str).map(str::to_string),
                key: material,
            });
        }
        Ok(Jwks { keys: out })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the set has a key with this id.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// Why a token is refused (each becomes `InvalidIdentityToken` with its message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON objects.
    Malformed,
    /// `alg` is not RS256 or ES256 (`none` included).
    UnsupportedAlgorithm(String),
    /// No key of the issuer's set has the token's `kid` (or fits its algorithm).
    UnknownKey,
    /// The signature does not verify with the issuer's key.
    BadSignature,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed => f.write_str("The ID token is not a well-formed JWT."),
            TokenError::UnsupportedAlgorithm(a) => {
                write!(f, "The ID token's signing algorithm {a} is not supported (RS256 and ES256 are).")
            }
            TokenError::UnknownKey => {
                f.write_str("No key in the OpenID Connect provider's key set matches the ID token's key id.")
            }
            TokenError::BadSignature => f.write_str("The ID token's signature could not be verified."),
        }
    }
}

/// A parsed, not yet verified, JWT.
pub struct Token {
    alg: String,
    kid: Option<String>,
    claims: Map<String, Value>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Token {
    /// Parses the compact serialisation `header.payload.signature`.
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let mut parts = text.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let json = |part: &str| -> Result<Map<String, Value>, TokenError> {
            let raw = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
            match serde_json::from_slice(&raw) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(TokenError::Malformed),
            }
        };
        let header = json(h)?;
        let claims = json(p)?;
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(TokenError::Malformed)?.to_string();
        if alg != "RS256" && alg != "ES256" {
            return Err(TokenError::UnsupportedAlgorithm(alg.chars().take(32).collect()));
        }
        if header.get("crit").is_some() {
            return Err(TokenError::Malformed);
        }
        let kid = header.get("kid").and_then(Value::as_str).map(str::to_string);
        let signing_input = format!("{h}.{p}").into_bytes();
        Ok(Token { alg, kid, claims, signing_input, signature })
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim (seconds since the epoch; fractions dropped).
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    }

    /// A claim that is a string or an array of strings (`aud`, `amr`).
    pub fn claim_strings(&self, name: &str) -> Vec<String> {
        match self.claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `jwks` has a key this token could be signed with (by `kid` when it has one).
    pub fn has_candidate_key(&self, jwks: &Jwks) -> bool {
        self.candidates(jwks).next().is_some()
    }

    fn candidates<'a>(&'a self, jwks: &'a Jwks) -> impl Iterator<Item = &'a Jwk> + 'a {
        jwks.keys.iter().filter(move |k| {
            let type_fits = matches!(
                (&k.key, self.alg.as_str()),
                (KeyMaterial::Rsa { .. }, "RS256") | (KeyMaterial::P256(_), "ES256")
            );
            let alg_fits = k.alg.as_deref().is_none_or(|a| a == self.alg);
            let kid_fits = match &self.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => true,
            };
            type_fits && alg_fits && kid_fits
        })
    }

    /// Verifies the signature with the keys of `jwks` (aws-lc-rs).
    pub fn verify(&self, jwks: &Jwks) -> Result<(), TokenError> {
        use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
        let mut any = false;
        for k in self.candidates(jwks) {
            any = true;
            let ok = match &k.key {
                KeyMaterial::Rsa { n, e } => RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, &self.signing_input, &self.signature)
                    .is_ok(),
                KeyMaterial::P256(point) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(&self.signing_input, &self.signature)
                    .is_ok(),
            };
            if ok {
                return Ok(());
            }
        }
        Err(if any { TokenError::BadSignature } else { TokenError::UnknownKey })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn es256() -> (EcdsaKeyPair, Jwks) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let pt = kp.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&pt[1..33]), "y": URL_SAFE_NO_PAD.encode(&pt[33..])}]});
        (kp, Jwks::parse(&serde_json::to_vec(&jwks).unwrap()).unwrap())
    }

    fn sign(kp: &EcdsaKeyPair, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", enc(&header), enc(&claims));
        let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    #[test]
    fn es256_token_verifies_with_its_key_and_not_once_altered() {
        let (kp, jwks) = es256();
        let t = sign(
            &kp,
            serde_json::json!({"alg": "ES256", "kid": "k1"}),
            serde_json::json!({"sub": "a", "aud": ["x", "y"]}),
        );
        let tok = Token::parse(&t).unwrap();
        tok.verify(&jwks).unwrap();
        assert_eq!(tok.claim_strings("aud"), vec!["x", "y"]);
        // Another payload under the same signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = enc(&serde_json::json!({"sub": "admin"}));
        parts[1] = &forged;
        assert_eq!(Token::parse(&parts.join(".")).unwrap().verify(&jwks), Err(TokenError::BadSignature));
        // Another key.
        let (_, other) = es256();
        assert_eq!(tok.verify(&other), Err(TokenError::BadSignature));
    }

    #[test]
    fn unknown_kid_alg_none_and_garbage_are_refused() {
        let (kp, jwks) = es256();
        let t = sign(&kp, serde_json::json!({"alg": "ES256", "kid": "k2"}), serde_json::json!({"sub": "a"}));
        assert_eq!(Token::parse(&t).unwrap().verify(&jwks), Err(TokenError::UnknownKey));
        let none = format!("{}.{}.", enc(&serde_json::json!({"alg": "none"})), enc(&serde_json::json!({"sub": "a"})));
        assert!(matches!(Token::parse(&none), Err(TokenError::UnsupportedAlgorithm(_))));
        let hs = format!("{}.{}.AAAA", enc(&serde_json::json!({"alg": "HS256"})), enc(&serde_json::json!({})));
        assert!(matches!(Token::parse(&hs), Err(TokenError::UnsupportedAlgorithm(_))));
        for bad in ["", "a.b", "a.b.c.d", "!!.??.**", "e30.e30"] {
            assert!(Token::parse(bad).is_err(), "{bad}");
        }
        // An RS256 token is never checked with an EC key.
        let rs =
            format!("{}.{}.AAAA", enc(&serde_json::json!({"alg": "RS256", "kid": "k1"})), enc(&serde_json::json!({})));
        assert_eq!(Token::parse(&rs).unwrap().verify(&jwks), Err(TokenError::UnknownKey));
    }

    #[test]
    fn key_sets_skip_unusable_keys() {
        let j = Jwks::parse(br#"{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}"#).unwrap();
        assert_eq!(j.len(), 1);
        assert!(j.has_kid("r"));
        assert!(Jwks::parse(b"[]").is_err());
        assert!(Jwks::parse(b"not json").is_err());
    }
}
