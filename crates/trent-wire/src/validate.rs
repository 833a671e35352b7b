//! Constraint checks that produce AWS-style `ValidationException` messages:
//! `1 validation error detected: Value 'x' at 'keyId' failed to satisfy constraint: Member must …`.
//!
//! Member names are the botocore model's, in lowerCamelCase as AWS prints them. Secret values
//! (plaintext) are never echoed: use the `*_secret` checks, which print no value.

use crate::WireError;

#[derive(Default, Debug)]
pub struct Validator {
    errors: Vec<String>,
}

const MAX_ECHO: usize = 256;

fn echo(v: &str) -> String {
    if v.chars().count() > MAX_ECHO {
        let cut: String = v.chars().take(MAX_ECHO).collect();
        format!("{cut}...")
    } else {
        v.to_string()
    }
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, value: Option<&str>, field: &str, constraint: String) {
        let value = match value {
            Some(v) => format!("Value '{}'", echo(v)),
            None => "Value null".to_string(),
        };
        self.errors.push(format!("{value} at '{field}' failed to satisfy constraint: {constraint}"));
    }

    /// The member is required.
    pub fn required<T>(&mut self, field: &str, v: &Option<T>) -> &mut Self {
        if v.is_none() {
            self.fail(None, field, "Member must not be null".into());
        }
        self
    }

    /// A string's length (in characters, as AWS counts) is within `min..=max`.
    pub fn len(&mut self, field: &str, v: Option<&str>, min: usize, max: usize) -> &mut Self {
        if let Some(s) = v {
            let n = s.chars().count();
            if n < min {
                self.fail(Some(s), field, format!("Member must have length greater than or equal to {min}"));
            } else if n > max {
                self.fail(Some(s), field, format!("Member must have length less than or equal to {max}"));
            }
        }
        self
    }

    /// A blob's length is within `min..=max`; the value is never printed.
    pub fn blob_len(&mut self, field: &str, v: Option<usize>, min: usize, max: usize) -> &mut Self {
        if let Some(n) = v {
            let c = if n < min {
                Some(format!("Member must have length greater than or equal to {min}"))
            } else if n > max {
                Some(format!("Member must have length less than or equal to {max}"))
            } else {
                None
            };
            if let Some(c) = c {
                self.errors.push(format!("Value at '{field}' failed to satisfy constraint: {c}"));
            }
        }
        self
    }

    /// A number is within `min..=max`.
    pub fn range(&mut self, field: &str, v: Option<i64>, min: i64, max: i64) -> &mut Self {
        if let Some(n) = v {
            let s = n.to_string();
            if n < min {
                self.fail(Some(&s), field, format!("Member must have value greater than or equal to {min}"));
            } else if n > max {
                self.fail(Some(&s), field, format!("Member must have value less than or equal to {max}"));
            }
        }
        self
    }

    /// A string is one of the model's enum values.
    pub fn one_of(&mut self, field: &str, v: Option<&str>, allowed: &[&str]) -> &mut Self {
        if let Some(s) = v {
            if !allowed.contains(&s) {
                self.fail(Some(s), field, format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
            }
        }
        self
    }

    /// A string satisfies a pattern, given as a predicate plus the pattern text AWS prints.
    pub fn pattern(&mut self, field: &str, v: Option<&str>, ok: impl Fn(&str) -> bool, pattern: &str) -> &mut Self {
        if let Some(s) = v {
            if !ok(s) {
                self.fail(Some(s), field, format!("Member must satisfy regular expression pattern: {pattern}"));
            }
        }
        self
    }

    /// A list's size is within `min..=max`.
    pub fn count(&mut self, field: &str, n: Option<usize>, min: usize, max: usize) -> &mut Self {
        if let Some(n) = n {
            if n < min {
                self.errors.push(format!(
                    "Value at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
                ));
            } else if n > max {
                self.errors.push(format!(
                    "Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                ));
            }
        }
        self
    }

    /// Adds a free-form validation error (for rules the model cannot express).
    pub fn custom(&mut self, message: impl Into<String>) -> &mut Self {
        self.errors.push(message.into());
        self
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(&mut self) -> Result<(), WireError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(WireError::Validation(format!("1 validation error detected: {}", self.errors[0]))),
            n => Err(WireError::Validation(format!("{n} validation errors detected: {}", self.errors.join("; ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_error_reads_like_aws() {
        let err = Validator::new().len("keyId", Some(""), 1, 2048).finish().unwrap_err();
        assert_eq!(
            err,
            WireError::Validation(
                "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1".into()
            )
        );
    }

    #[test]
    fn several_errors_are_counted_and_joined() {
        let mut v = Validator::new();
        v.required::<String>("keyId", &None).range("numberOfBytes", Some(2000), 1, 1024);
        let WireError::Validation(m) = v.finish().unwrap_err() else { panic!() };
        assert!(m.starts_with("2 validation errors detected: Value null at 'keyId'"), "{m}");
        assert!(m.contains("; Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"));
    }

    #[test]
    fn blob_errors_never_echo_the_value() {
        let WireError::Validation(m) =
            Validator::new().blob_len("plaintext", Some(5000), 1, 4096).finish().unwrap_err()
        else {
            panic!()
        };
        assert_eq!(m, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    }

    #[test]
    fn enum_lists_allowed_values() {
        let WireError::Validation(m) =
            Validator::new().one_of("keySpec", Some("AES_512"), &["AES_256", "AES_128"]).finish().unwrap_err()
        else {
            panic!()
        };
        assert!(m.ends_with("Member must satisfy enum value set: [AES_256, AES_128]"), "{m}");
    }
}
