//! Typed errors for ssh_config reading and resolution; every one names its file and line.

use std::fmt;

/// What went wrong on a line (or in resolution).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A keyword OpenSSH does not know, not covered by `IgnoreUnknown`.
    UnknownKeyword(String),
    /// A keyword with no value after it.
    MissingArgument(String),
    /// An unclosed quote.
    InvalidQuotes,
    /// More arguments than the keyword takes.
    ExtraArguments(String),
    /// A value the keyword does not accept (the keyword, the value).
    BadValue(String, String),
    /// A `Match` line OpenSSH rejects (why).
    BadMatch(String),
    /// `Match exec` failed to run (the runner's message).
    Exec(String),
    /// An `Include` nested deeper than OpenSSH's limit of 16, or more files than [`MAX_FILES`](super::MAX_FILES).
    IncludeDepth,
    /// The file could not be read (the reader's message).
    Read(String),
    /// A list grew past OpenSSH's limit for it (the keyword).
    TooMany(String),
    /// `%x` or `${VAR}` expansion failed (why).
    Expansion(String),
    /// Canonicalization found no name and `CanonicalizeFallbackLocal no` (the host).
    Unresolvable(String),
    /// `Host`, `Match` or `Include` given with `-o` (the directive as written).
    NotOnCommandLine(String),
}

/// An error with where it happened. `line` is 0 when the error is not about one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file being read (as the caller named it).
    pub file: String,
    /// 1-based line number, 0 for a whole file or for resolution.
    pub line: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl ConfigError {
    pub(crate) fn new(file: &str, line: usize, kind: ErrorKind) -> Self {
        Self { file: file.to_owned(), line, kind }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKeyword(k) => write!(f, "Bad configuration option: {k}"),
            Self::MissingArgument(k) => write!(f, "missing argument for \"{k}\""),
            Self::InvalidQuotes => f.write_str("invalid quotes"),
            Self::ExtraArguments(k) => write!(f, "keyword {k} extra arguments at end of line"),
            Self::BadValue(k, v) => write!(f, "bad value for {k}: \"{v}\""),
            Self::BadMatch(why) => write!(f, "Bad Match condition: {why}"),
            Self::Exec(why) => write!(f, "match exec failed: {why}"),
            Self::IncludeDepth => f.write_str("Too many recursive configuration includes"),
            Self::Read(why) => write!(f, "cannot read: {why}"),
            Self::TooMany(k) => write!(f, "too many {k} entries"),
            Self::Expansion(why) => write!(f, "expansion failed: {why}"),
            Self::Unresolvable(h) => write!(f, "Could not resolve host \"{h}\""),
            Self::NotOnCommandLine(d) => write!(f, "{d} directive not supported as a command-line option"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.kind),
            n => write!(f, "{} line {n}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for ConfigError {}
