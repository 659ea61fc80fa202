//! ssh_config: arbitrary text as a config file (with an included file), resolved for a host
//! through an in-memory environment.

use super::Seeds;
use crate::ssh_config::{ConfigFile, LocalUser, MemoryEnvironment, Query, Sources, resolve};

const HOSTS: &[&str] = &["web", "db1.internal", "Alias", "10.0.0.1", "x.example.org"];

/// Input: one byte choosing the host, then the main config, a NUL, and the text of
/// `/inc` (which the main config may `Include`, also as `~/.ssh/inc`).
///
/// Properties: resolution never panics; a file that splits into directives splits the
/// same way after `to_text`; resolving is deterministic and the output starts with the host.
pub fn ssh_config(data: &[u8]) {
    let (choice, rest) = data.split_first().map_or((0, data), |(c, r)| (*c, r));
    let host = HOSTS.get(usize::from(choice) % HOSTS.len()).copied().unwrap_or("web");
    let text = String::from_utf8_lossy(rest);
    // `main \0 included file \0 -o lines`.
    let (main, inc) = text.split_once('\0').unwrap_or((&text, ""));
    let (inc, options) = inc.split_once('\0').unwrap_or((inc, ""));

    if let Ok(file) = ConfigFile::parse("main", main) {
        let again = ConfigFile::parse("again", &file.to_text()).expect("written directives parse");
        let strip =
            |f: &ConfigFile| f.directives.iter().map(|d| (d.keyword.clone(), d.args.clone())).collect::<Vec<_>>();
        assert_eq!(strip(&again), strip(&file), "to_text round trip");
    }

    let mut env = MemoryEnvironment::default();
    env.files.insert("/cfg".into(), main.to_owned());
    env.files.insert("/inc".into(), inc.to_owned());
    env.files.insert("/home/u/.ssh/inc".into(), inc.to_owned());
    env.vars.insert("HOME".into(), "/home/u".into());
    env.names.insert("web.example.com.".into(), "web.example.com".into());
    env.names.insert("web".into(), "cdn.example.net".into());
    env.exec_ok.push("true".into());
    let local = LocalUser { user: "u".into(), home: "/home/u".into(), uid: 1000, hostname: "fuzz.local".into() };
    let mut query = Query::new(host);
    query.options = options.lines().map(str::to_owned).collect();
    let first = resolve(&query, &Sources::File("/cfg".into()), &local, &mut env.clone());
    let second = resolve(&query, &Sources::File("/cfg".into()), &local, &mut env);
    assert_eq!(first, second, "resolution is deterministic");
    if let Ok(r) = first {
        let out = r.to_ssh_g();
        assert!(out.starts_with(&format!("host {host}\n")));
        let _ = (r.lookup(), r.proxy(), r.identity_files(), r.local_forwards(), r.set_env());
    }
}

pub(super) fn seeds(out: &mut Seeds) {
    let configs: &[(&str, u8, &str)] = &[
        ("host-blocks", 0, "Host web !bad\n  User alice\n  Port 2222\nHost *\n  IdentityFile ~/.ssh/id_%h\n"),
        (
            "match",
            2,
            "Match originalhost alias\n  Hostname real.example.org\nMatch host *.example.org exec true\n  User m\nMatch final\n  Compression yes\n",
        ),
        (
            "include",
            0,
            "Include /inc ~/.ssh/inc\nHost *\n  User outer\n\0Host web\n  User inner\nMatch all\n  Port 1\n",
        ),
        (
            "canonical",
            0,
            "CanonicalizeHostname yes\nCanonicalDomains example.com\nCanonicalizePermittedCNAMEs *:*.example.net\nMatch canonical\n  User c\n",
        ),
        (
            "proxy",
            4,
            "ProxyJump a@j1:2200,[::1]:22\nProxyCommand nc %h %p\nLocalForward 8080 db:5432\nDynamicForward 1080\n",
        ),
        (
            "tokens",
            1,
            "Hostname %h.x\nUserKnownHostsFile ~/kh/%C ${HOME}/kh2\nControlPath ~/%r@%h:%p\nRemoteCommand echo %n %u\n",
        ),
        ("ignore-unknown", 0, "IgnoreUnknown Foo*\nFooBar yes\nSetEnv A=1 \"B=2 3\"\nSendEnv LC_* -LC_ALL\n"),
        (
            "command-line",
            0,
            "Host web\n  Port 2222\n\0\0Port=3\nUser first\nLocalForward 8080 localhost:80\nProxyJump j1,j2\n",
        ),
    ];
    for (name, host, text) in configs {
        let mut bytes = vec![*host];
        bytes.extend_from_slice(text.as_bytes());
        out.push(("ssh_config", (*name).to_owned(), bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds, trivial inputs and a few thousand cheap mutations of the seeds.
    #[test]
    fn body_accepts_seeds_and_mutations() {
        let mut seeds = Vec::new();
        super::seeds(&mut seeds);
        for data in [&b""[..], b"\0", b"\xff", &[0xff; 64], &[0; 64]] {
            ssh_config(data);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const ALPHABET: &[u8] = b" \t\n=\"'\\#%!*?,:@[]{}$~/.0123456789abcdefghijklmnopqrstuvwxyzHMIPU\0";
        for (_, _, data) in &seeds {
            ssh_config(data);
            for _ in 0..400 {
                let mut d = data.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % (d.len() + 1);
                    let c = ALPHABET[(next() as usize) % ALPHABET.len()];
                    match next() % 3 {
                        0 if at < d.len() => d[at] = c,
                        1 if at < d.len() => {
                            d.remove(at);
                        }
                        _ => d.insert(at, c),
                    }
                }
                ssh_config(&d);
            }
        }
    }
}
