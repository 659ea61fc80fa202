//! A config file as directives (keyword and arguments), without evaluating it: for tools
//! that read or rewrite configs, and for the round-trip property.

use super::error::{ConfigError, ErrorKind};
use super::lexer::{self, LexError};

/// One keyword line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line number in the parsed text.
    pub line: usize,
    /// The keyword, lowercased.
    pub keyword: String,
    /// The arguments after quote and escape removal (a trailing `#` comment dropped).
    pub args: Vec<String>,
}

/// A parsed file: its directives in order (blank and comment lines dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The directives.
    pub directives: Vec<Directive>,
}

impl ConfigFile {
    /// Splits `text` into directives; `name` is used in errors. Keywords are not checked
    /// here (that needs `IgnoreUnknown`, which is evaluated with the blocks).
    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigError> {
        let mut directives = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let err = |kind| ConfigError::new(name, i + 1, kind);
            let raw = match lexer::split_line(line) {
                Ok(Some(raw)) => raw,
                Ok(None) => continue,
                Err(LexError::Quotes) => return Err(err(ErrorKind::InvalidQuotes)),
                Err(LexError::NoArgument) => return Err(err(ErrorKind::MissingArgument(line.trim().to_owned()))),
            };
            let args = lexer::split_args(raw.rest).map_err(|_| err(ErrorKind::InvalidQuotes))?;
            directives.push(Directive { line: i + 1, keyword: raw.keyword, args });
        }
        Ok(Self { directives })
    }

    /// Writes the directives back, one a line, arguments quoted where needed; `Host` and
    /// `Match` lines start blocks and the lines after them are indented.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut in_block = false;
        for d in &self.directives {
            let starts_block = matches!(d.keyword.as_str(), "host" | "match");
            if in_block && !starts_block {
                out.push_str("    ");
            }
            in_block |= starts_block;
            // A keyword can hold delimiters only if it was quoted (it never holds a quote).
            match d.keyword.contains([' ', '\t', '=', '\r', '\n']) {
                true => {
                    out.push('"');
                    out.push_str(&d.keyword);
                    out.push('"');
                }
                false => out.push_str(&d.keyword),
            }
            if d.args.is_empty() {
                // `keyword #` reads back as a keyword with no arguments.
                out.push_str(" #");
            }
            for a in &d.args {
                out.push(' ');
                out.push_str(&lexer::quote_arg(a));
            }
            out.push('\n');
        }
        out
    }
}
