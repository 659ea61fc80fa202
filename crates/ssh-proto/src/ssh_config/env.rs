//! What resolution needs from the outside world, supplied by the driver: files, globbing,
//! `Match exec`, environment variables and name resolution. [`MemoryEnvironment`] is a
//! complete in-memory implementation for tests and fuzzing.

use std::collections::BTreeMap;

/// The local account and machine (OpenSSH takes them from `getpwuid` and `gethostname`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalUser {
    /// Login name (`%u`, `Match localuser`, the default `User`).
    pub user: String,
    /// Home directory (`~`, `%d`).
    pub home: String,
    /// Numeric user id (`%i`).
    pub uid: u32,
    /// The machine's host name (`%l`; `%L` is its first label).
    pub hostname: String,
}

/// The driver's side of resolution. Methods take `&mut self` so an implementation may
/// cache or record.
pub trait Environment {
    /// The text of a file: `Ok(None)` when it does not exist (OpenSSH skips missing files),
    /// `Err` with a message for any other failure.
    fn read_file(&mut self, path: &str) -> Result<Option<String>, String>;
    /// The paths matching a `glob(3)` pattern (already `~`-expanded), sorted; empty when none.
    fn glob(&mut self, pattern: &str) -> Vec<String>;
    /// Runs a `Match exec` command (`/bin/sh -c` in OpenSSH): whether it exited 0, `Err` when it
    /// could not run or was killed.
    fn exec(&mut self, command: &str) -> Result<bool, String>;
    /// An environment variable, for `${VAR}` expansion.
    fn var(&self, name: &str) -> Option<String>;
    /// Resolves a fully qualified name (trailing dot included) for hostname canonicalization:
    /// `None` when it does not resolve, else the resolver's canonical name (the CNAME target,
    /// or the name itself without its dot).
    fn resolve(&mut self, name: &str) -> Option<String>;
}

/// An [`Environment`] held in memory: files by absolute path, variables, resolvable names and
/// `Match exec` answers.
#[derive(Clone, Debug, Default)]
pub struct MemoryEnvironment {
    /// Files by absolute path.
    pub files: BTreeMap<String, String>,
    /// Environment variables.
    pub vars: BTreeMap<String, String>,
    /// Resolvable names (with trailing dot) and their canonical names.
    pub names: BTreeMap<String, String>,
    /// `Match exec` commands (after token expansion) that succeed; every other one fails.
    pub exec_ok: Vec<String>,
    /// Every command `exec` was asked to run, in order.
    pub executed: Vec<String>,
}

impl Environment for MemoryEnvironment {
    fn read_file(&mut self, path: &str) -> Result<Option<String>, String> {
        Ok(self.files.get(path).cloned())
    }

    fn glob(&mut self, pattern: &str) -> Vec<String> {
        // Like glob(3): `*` and `?` stay within one path component.
        let want: Vec<&str> = pattern.split('/').collect();
        self.files
            .keys()
            .filter(|path| {
                let got: Vec<&str> = path.split('/').collect();
                got.len() == want.len()
                    && got.iter().zip(&want).all(|(g, w)| crate::pattern::wildcard_match(w, g))
                    && !got
                        .last()
                        .is_some_and(|name| name.starts_with('.') && !want.last().is_some_and(|w| w.starts_with('.')))
            })
            .cloned()
            .collect()
    }

    fn exec(&mut self, command: &str) -> Result<bool, String> {
        self.executed.push(command.to_owned());
        Ok(self.exec_ok.iter().any(|c| c == command))
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn resolve(&mut self, name: &str) -> Option<String> {
        self.names.get(name).cloned()
    }
}
