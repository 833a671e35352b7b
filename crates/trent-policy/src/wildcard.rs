//! Wildcard matching as IAM does it: `*` matches any run of characters (including none), `?`
//! matches exactly one character. Patterns are sequences of [`Tok`] so that a policy variable
//! such as `${*}` can stand for a literal `*` that is not a wildcard.

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Reads `*` and `?` in `s` as wildcards and every other character literally.
pub(crate) fn tokens(s: &str) -> Vec<Tok> {
    s.chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

fn char_eq(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Matches `value` against `pat` in linear space and O(len(pat) * len(value)) time at worst
/// (the classic single-backtrack-point algorithm: `*` never needs more than one).
pub(crate) fn match_toks(pat: &[Tok], value: &str, ignore_case: bool) -> bool {
    let v: Vec<char> = value.chars().collect();
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < v.len() {
        match pat.get(p) {
            Some(Tok::Star) => {
                star = Some((p, i));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                i += 1;
            }
            Some(Tok::Lit(c)) if char_eq(*c, v[i], ignore_case) => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|t| *t == Tok::Star)
}

/// `*`/`?` wildcard match, case-sensitive (resources, `StringLike`).
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    match_toks(&tokens(pattern), value, false)
}

/// `*`/`?` wildcard match ignoring case (actions: `KMS:decrypt` is `kms:Decrypt`).
pub fn wildcard_match_ignore_case(pattern: &str, value: &str) -> bool {
    match_toks(&tokens(pattern), value, true)
}

/// Splits a token pattern at its first five literal `:`, as an ARN is split.
fn split_arn_toks(pat: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    for (i, t) in pat.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if *t == Tok::Lit(':') {
            parts.push(&pat[start..i]);
            start = i + 1;
        }
    }
    parts.push(&pat[start..]);
    parts
}

/// Matches an ARN against an ARN pattern segment by segment (a wildcard does not cross the
/// `:` between partition, service, region, account and resource; the resource may contain
/// `:`). A pattern with fewer than six segments is matched against the whole string.
pub(crate) fn match_arn_toks(pat: &[Tok], value: &str) -> bool {
    let segs = split_arn_toks(pat);
    let vals: Vec<&str> = value.splitn(6, ':').collect();
    if segs.len() == 6 && vals.len() == 6 {
        segs.iter().zip(vals.iter()).all(|(p, v)| match_toks(p, v, false))
    } else {
        match_toks(pat, value, false)
    }
}

/// ARN match with `*`/`?` wildcards within each segment (Resource, `ArnLike`).
pub fn arn_match(pattern: &str, value: &str) -> bool {
    match_arn_toks(&tokens(pattern), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_including_empty() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*", "a"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("*b*", "abc"));
        assert!(!wildcard_match("a*c", "abd"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(wildcard_match("??", "é!"));
    }

    #[test]
    fn backtracking_finds_a_later_match() {
        assert!(wildcard_match("*ab", "aab"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn case_is_significant_unless_ignored() {
        assert!(!wildcard_match("kms:decrypt", "kms:Decrypt"));
        assert!(wildcard_match_ignore_case("KMS:decrypt", "kms:Decrypt"));
        assert!(wildcard_match_ignore_case("kms:Gen*", "kms:generatedatakey"));
    }

    #[test]
    fn arn_wildcards_stay_within_a_segment() {
        assert!(arn_match("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:us-east-1:111122223333:key/abc"));
        assert!(!arn_match("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:us-east-1:444455556666:key/abc"));
        // `*` in the region segment must not swallow the account segment.
        assert!(!arn_match("arn:aws:kms:*:*:111122223333:key/*", "arn:aws:kms:us-east-1:111122223333:key/k"));
        assert!(arn_match("arn:aws:ssm:*:*:parameter/a:b*", "arn:aws:ssm:eu-west-1:1:parameter/a:bc"));
        assert!(!arn_match("arn:aws:kms:us-east-1:1:key/a", "arn:aws:kms:us-east-1:1:key/A"));
    }

    #[test]
    fn short_arn_pattern_matches_whole_string() {
        assert!(arn_match("arn:aws:kms:*", "arn:aws:kms:us-east-1:1:key/k"));
        assert!(!arn_match("arn:aws:ssm:*", "arn:aws:kms:us-east-1:1:key/k"));
    }

    #[test]
    fn literal_star_token_is_not_a_wildcard() {
        let pat = vec![Tok::Lit('a'), Tok::Lit('*')];
        assert!(match_toks(&pat, "a*", false));
        assert!(!match_toks(&pat, "ab", false));
    }
}
