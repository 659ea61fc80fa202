//! Splitting one ssh_config line the way OpenSSH's readconf.c does: the keyword with
//! `strdelim` (whitespace or one `=`), the arguments with `argv_split` (quotes, `\` escapes,
//! `#` comments at the start of a token).

/// Whitespace as readconf.c's `WHITESPACE`.
const WS: &[char] = &[' ', '\t', '\r', '\n'];

/// One non-blank, non-comment line: its keyword (lowercased) and what follows it.
#[derive(Debug)]
pub(crate) struct RawLine<'a> {
    pub keyword: String,
    /// The text after the keyword and its separator, untouched (ProxyCommand and friends
    /// take it whole; Match reads it token by token).
    pub rest: &'a str,
}

/// Why a line could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LexError {
    /// A keyword with nothing after it.
    NoArgument,
    /// A quote without its closing quote.
    Quotes,
}

/// Splits off the keyword; `Ok(None)` for blank and comment lines.
pub(crate) fn split_line(line: &str) -> Result<Option<RawLine<'_>>, LexError> {
    let line = line.trim_end_matches([' ', '\t', '\r', '\n', '\u{c}']);
    let (mut keyword, mut rest) = match strdelim(line) {
        Some(t) => t,
        None => return Err(LexError::Quotes),
    };
    if keyword.is_empty() {
        match rest.map(strdelim) {
            Some(Some(t)) => (keyword, rest) = t,
            Some(None) => return Err(LexError::Quotes),
            None => return Ok(None),
        }
    }
    if keyword.is_empty() || keyword.starts_with('#') {
        return Ok(None);
    }
    let rest = rest.map(|r| r.trim_start_matches(WS)).unwrap_or_default();
    if rest.is_empty() {
        return Err(LexError::NoArgument);
    }
    Ok(Some(RawLine { keyword: keyword.to_ascii_lowercase(), rest }))
}

/// OpenSSH's `strdelim`: the next token (one pair of double quotes removed) and the rest
/// after the delimiter (`None` at the end of the line); `None` for an unclosed quote.
pub(crate) fn strdelim(s: &str) -> Option<(String, Option<&str>)> {
    let Some(i) = s.find([' ', '\t', '\r', '\n', '"', '=']) else {
        return Some((s.to_owned(), None));
    };
    let (head, tail) = s.split_at(i);
    if let Some(quoted) = tail.strip_prefix('"') {
        let end = quoted.find('"')?;
        let token = format!("{head}{}", quoted.get(..end).unwrap_or_default());
        let after = quoted.get(end + 1..).unwrap_or_default().trim_start_matches(WS);
        return Some((token, Some(after)));
    }
    let was_equals = tail.starts_with('=');
    let mut after = tail.get(1..).unwrap_or_default().trim_start_matches(WS);
    if !was_equals && let Some(a) = after.strip_prefix('=') {
        after = a.trim_start_matches(WS);
    }
    Some((head.to_owned(), Some(after)))
}

/// OpenSSH's `argv_split` with comments ending the line: the arguments of `rest`.
pub(crate) fn split_args(s: &str) -> Result<Vec<String>, LexError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(out),
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match c {
                '\\' => {
                    chars.next();
                    match chars.peek() {
                        Some(&e @ ('\'' | '"' | '\\')) => {
                            arg.push(e);
                            chars.next();
                        }
                        Some(' ') if quote.is_none() => {
                            arg.push(' ');
                            chars.next();
                        }
                        _ => arg.push('\\'),
                    }
                    continue;
                }
                ' ' | '\t' if quote.is_none() => break,
                '"' | '\'' if quote.is_none() => quote = Some(c),
                _ if quote == Some(c) => quote = None,
                _ => arg.push(c),
            }
            chars.next();
        }
        if quote.is_some() {
            return Err(LexError::Quotes);
        }
        out.push(arg);
    }
}

/// Writes one argument so that [`split_args`] reads it back unchanged.
pub(crate) fn quote_arg(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg.starts_with(['#', '='])
        && !arg.contains([' ', '\t', '"', '\'', '\\', '\r', '\n', '\u{c}']);
    if plain {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
