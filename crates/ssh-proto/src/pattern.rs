//! OpenSSH's `*`/`?` patterns and `!`-negated pattern lists (match.c), shared by
//! known_hosts host fields, ssh_config `Host`/`Match` criteria and certificate principals.

/// How a name fared against a pattern list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMatch {
    /// A `!pattern` matched: the list rejects the name whatever else matches.
    Negated,
    /// A plain pattern matched and no negated one did.
    Matched,
    /// Nothing matched.
    NoMatch,
}

impl ListMatch {
    /// Whether the list accepts the name.
    pub fn is_match(self) -> bool {
        self == Self::Matched
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes (including none) and
/// `?` exactly one byte; every other byte matches itself.
///
/// ```
/// use ssh_proto::pattern::wildcard_match;
/// assert!(wildcard_match("*.example.com", "www.example.com"));
/// assert!(wildcard_match("host?", "host1"));
/// assert!(!wildcard_match("host?", "host"));
/// ```
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // Iterative glob with one backtrack point: linear in practice, never exponential on
    // hostile patterns such as `*a*a*a*a…b`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Matches `text` against patterns, any of which may start with `!` to negate it
/// (OpenSSH's `match_pattern_list` over an already-split list).
///
/// ```
/// use ssh_proto::pattern::{ListMatch, match_list};
/// assert_eq!(match_list(["*.example.com", "!bad.example.com"], "bad.example.com"), ListMatch::Negated);
/// assert_eq!(match_list(["*.example.com"], "www.example.com"), ListMatch::Matched);
/// ```
pub fn match_list<'a>(patterns: impl IntoIterator<Item = &'a str>, text: &str) -> ListMatch {
    let mut result = ListMatch::NoMatch;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, text) => return ListMatch::Negated,
            Some(_) => {}
            None if wildcard_match(pattern, text) => result = ListMatch::Matched,
            None => {}
        }
    }
    result
}

/// [`match_list`] over a comma-separated list (known_hosts host fields, `Match host a,b`).
pub fn match_comma_list(list: &str, text: &str) -> ListMatch {
    match_list(list.split(','), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b", "ab", true),
            ("a*b", "axxb", true),
            ("a*b", "axxbc", false),
            ("*.*", "a.b", true),
            ("?", "", false),
            ("a**", "a", true),
            ("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("10.0.0.?", "10.0.0.1", true),
            ("10.0.0.?", "10.0.0.10", false),
        ] {
            assert_eq!(wildcard_match(p, t), want, "{p:?} vs {t:?}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(match_comma_list("a,b,c", "b"), ListMatch::Matched);
        assert_eq!(match_comma_list("!b,*", "b"), ListMatch::Negated);
        assert_eq!(match_comma_list("!b", "c"), ListMatch::NoMatch);
        assert!(!match_comma_list("!b", "c").is_match());
    }

    /// A naive recursive matcher as the oracle.
    fn naive(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => naive(&p[1..], t) || (!t.is_empty() && naive(p, &t[1..])),
            (Some(b'?'), Some(_)) => naive(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => naive(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_naive(p in "[ab*?]{0,8}", t in "[ab]{0,8}") {
            prop_assert_eq!(wildcard_match(&p, &t), naive(p.as_bytes(), t.as_bytes()));
        }
    }
}
