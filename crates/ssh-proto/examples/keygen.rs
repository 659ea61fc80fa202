//! `keygen`: the parts of OpenSSH's `ssh-keygen` that Paramiko users reach for, with its
//! flags and output, over the sans-IO core's key, certificate and known_hosts code. This file
//! does only the file IO and argument parsing.
//!
//! ```text
//! keygen -l [-v] [-E sha256|md5] -f FILE        fingerprint lines, as ssh-keygen -l
//! keygen -y [-P PASS] -f FILE                   public key of a private key file
//! keygen -t TYPE [-b BITS] [-N PASS] [-C COMMENT] [-m RFC4716|PEM|PKCS8] [-q] -f OUT
//! keygen -p [-P OLD] [-N NEW] [-m FORMAT] -f FILE   change a key's passphrase
//! keygen -F HOST -f KNOWN_HOSTS                 find HOST (also in hashed files)
//! keygen -H -f KNOWN_HOSTS                      hash every host name in place
//! keygen -R HOST -f KNOWN_HOSTS                 remove HOST
//! ```
//!
//! Failures print one line to stderr and exit 255 (bad key, wrong passphrase) or 1 (usage,
//! not found), as ssh-keygen does.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ssh_proto::keys::file::{
    KeyFileError, PrivateKeyFormat, PublicKeyFile, decode_private_key, encode_private_key, is_encrypted, public_key_of,
};
use ssh_proto::keys::fingerprint::{FingerprintHash, fingerprint, keygen_line, randomart};
use ssh_proto::keys::generate::{KeyType, generate};
use ssh_proto::known_hosts::{KnownHosts, Marker};

/// How the run failed: the exit code and the one line for stderr.
struct Failure(u8, String);

fn usage(why: impl Into<String>) -> Failure {
    Failure(1, why.into())
}

fn load_failure(path: &Path, e: KeyFileError) -> Failure {
    Failure(255, format!("Load key \"{}\": {e}", path.display()))
}

#[derive(Default)]
struct Args {
    mode: Option<char>,
    file: Option<PathBuf>,
    hash: FingerprintHash,
    verbose: bool,
    quiet: bool,
    key_type: Option<String>,
    bits: Option<u32>,
    new_pass: Option<String>,
    old_pass: Option<String>,
    comment: Option<String>,
    format: Option<PrivateKeyFormat>,
    host: Option<String>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let mut a = Args::default();
    let set_mode = |a: &mut Args, m: char| match a.mode {
        Some(old) if old != m => Err(usage(format!("-{old} and -{m} cannot be combined"))),
        _ => {
            a.mode = Some(m);
            Ok(())
        }
    };
    while let Some(arg) = argv.next() {
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(usage(format!("unexpected argument {arg}")));
        };
        for (i, c) in flags.char_indices() {
            // Flags with a value take the rest of this word or the next word (getopt).
            let mut value = || -> Result<String, Failure> {
                let rest = &flags[i + c.len_utf8()..];
                let v = if rest.is_empty() { argv.next() } else { Some(rest.to_owned()) };
                v.ok_or_else(|| usage(format!("option -{c} needs a value")))
            };
            match c {
                'l' | 'y' | 'H' | 'p' => set_mode(&mut a, c)?,
                'v' => a.verbose = true,
                'q' => a.quiet = true,
                'f' => a.file = Some(PathBuf::from(value()?)),
                'E' => {
                    let v = value()?;
                    a.hash = FingerprintHash::from_name(&v)
                        .ok_or_else(|| usage(format!("Invalid hash algorithm \"{v}\"")))?;
                }
                't' => {
                    set_mode(&mut a, 't')?;
                    a.key_type = Some(value()?);
                }
                'b' => {
                    let v = value()?;
                    a.bits = Some(v.parse().map_err(|_| usage(format!("Invalid number of bits {v}")))?);
                }
                'N' => a.new_pass = Some(value()?),
                'P' => a.old_pass = Some(value()?),
                'C' => a.comment = Some(value()?),
                'm' => {
                    let v = value()?;
                    a.format = Some(match v.to_ascii_uppercase().as_str() {
                        "RFC4716" | "SSH2" => PrivateKeyFormat::OpenSsh,
                        "PEM" => PrivateKeyFormat::Pem,
                        "PKCS8" => PrivateKeyFormat::Pkcs8,
                        _ => return Err(usage(format!("Unsupported conversion format \"{v}\""))),
                    });
                }
                'F' | 'R' => {
                    set_mode(&mut a, c)?;
                    a.host = Some(value()?);
                }
                other => return Err(usage(format!("unknown option -{other}"))),
            }
            if matches!(c, 'f' | 'E' | 't' | 'b' | 'N' | 'P' | 'C' | 'm' | 'F' | 'R') {
                break;
            }
        }
    }
    Ok(a)
}

fn read(path: &Path) -> Result<String, Failure> {
    fs::read_to_string(path).map_err(|e| Failure(255, format!("{}: {e}", path.display())))
}

fn file(a: &Args) -> Result<&Path, Failure> {
    a.file.as_deref().ok_or_else(|| usage("no file given (use -f FILE)"))
}

/// `-l`: one line per key; a private key file uses its `.pub` beside it when there is one
/// (for the comment), as ssh-keygen does.
fn fingerprints(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let text = read(path)?;
    let show = |key: &ssh_key::PublicKey, cert: bool| {
        println!("{}", keygen_line(key, cert, a.hash));
        if a.verbose {
            println!("{}", randomart(key.key_data(), cert, a.hash));
        }
    };
    if text.contains("-----BEGIN ") {
        let pub_path = PathBuf::from(format!("{}.pub", path.display()));
        let found = match fs::read_to_string(&pub_path).ok().and_then(|t| public_key_of(&t, None).ok()) {
            Some(k) => k,
            None => public_key_of(&text, None)
                .map_err(|_| Failure(255, format!("{} is not a key file.", path.display())))?,
        };
        show(&found.public_key(), matches!(found, PublicKeyFile::Certificate(_)));
        return Ok(());
    }
    // Public key, authorized_keys or known_hosts lines: every key, in order.
    let mut any = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Ok(found) = public_key_of(line, None) {
            show(&found.public_key(), matches!(found, PublicKeyFile::Certificate(_)));
            any = true;
        } else if let Some((hosts, rest)) = line.split_once(char::is_whitespace)
            && let Ok(found) = public_key_of(rest.trim_start(), None)
        {
            // known_hosts: the host field stands where the comment would.
            let mut key = found.public_key();
            key.set_comment(hosts);
            show(&key, matches!(found, PublicKeyFile::Certificate(_)));
            any = true;
        }
    }
    if any { Ok(()) } else { Err(Failure(255, format!("{} is not a public key file.", path.display()))) }
}

/// A private key file, decrypted. Like ssh-keygen, the comment is the file's own (none for
/// PEM and PKCS#8), not the `.pub` file's.
fn load_private(path: &Path, pass: Option<&str>) -> Result<ssh_proto::keys::file::LoadedKey, Failure> {
    let text = read(path)?;
    decode_private_key(&text, pass.map(str::as_bytes)).map_err(|e| load_failure(path, e))
}

/// `-y`: the public key line of a private key.
fn public_line(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let loaded = load_private(path, a.old_pass.as_deref())?;
    let line = loaded.key.public_key().to_openssh().map_err(|e| Failure(255, e.to_string()))?;
    println!("{line}");
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| Failure(1, format!("Saving key \"{}\" failed: {e}", path.display()));
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)
}

fn default_comment() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "user".into());
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
    format!("{user}@{}", host.trim())
}

fn check_passphrase(p: &str) -> Result<(), Failure> {
    // ssh-keygen refuses 1–4 character passphrases for encrypted PEM/PKCS#8 (OpenSSL's rule);
    // the same rule everywhere keeps one behaviour.
    if !p.is_empty() && p.len() < 5 {
        return Err(Failure(1, "passphrase is too short (minimum five characters)".into()));
    }
    Ok(())
}

/// `-t`: generate, write `OUT` (mode 0600) and `OUT.pub`, and report like ssh-keygen.
fn generate_key(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let name = a.key_type.as_deref().unwrap_or("ed25519");
    let kind = KeyType::from_keygen(name, a.bits).map_err(|e| usage(e.0))?;
    if path.exists() {
        return Err(Failure(1, format!("{} already exists.", path.display())));
    }
    let pass = a.new_pass.as_deref().unwrap_or("");
    check_passphrase(pass)?;
    if !a.quiet {
        println!("Generating public/private {} key pair.", name.to_ascii_lowercase());
    }
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let mut key = generate(kind, &mut rng).map_err(|e| Failure(1, e.to_string()))?;
    key.set_comment(a.comment.clone().unwrap_or_else(default_comment));
    let format = a.format.unwrap_or(PrivateKeyFormat::OpenSsh);
    let format = if kind == KeyType::Ed25519 { PrivateKeyFormat::OpenSsh } else { format };
    let passphrase = (!pass.is_empty()).then_some(pass.as_bytes());
    let text = encode_private_key(&key, format, passphrase, &mut rng).map_err(|e| Failure(1, e.to_string()))?;
    write_private(path, &text)?;
    let public = key.public_key().to_openssh().map_err(|e| Failure(1, e.to_string()))?;
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    fs::write(&pub_path, format!("{public}\n")).map_err(|e| Failure(1, format!("{}: {e}", pub_path.display())))?;
    if !a.quiet {
        let data = key.public_key().key_data();
        println!("Your identification has been saved in {}", path.display());
        println!("Your public key has been saved in {}", pub_path.display());
        println!("The key fingerprint is:");
        println!("{} {}", fingerprint(data, a.hash), key.comment().as_str_lossy());
        println!("The key's randomart image is:");
        println!("{}", randomart(data, false, a.hash));
    }
    Ok(())
}

/// `-p`: re-encrypt a key under a new passphrase (empty: none). Like ssh-keygen, the key is
/// saved in OpenSSH format unless `-m` asks for another.
fn change_passphrase(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let text = read(path)?;
    let old = a.old_pass.as_deref().filter(|_| is_encrypted(&text).unwrap_or(false));
    let loaded = load_private(path, old.or(Some("")))?;
    let new = a.new_pass.as_deref().unwrap_or("");
    check_passphrase(new)?;
    let format = a.format.unwrap_or(PrivateKeyFormat::OpenSsh);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let passphrase = (!new.is_empty()).then_some(new.as_bytes());
    let out = encode_private_key(&loaded.key, format, passphrase, &mut rng).map_err(|e| Failure(1, e.to_string()))?;
    write_private(path, &out)?;
    println!("Your identification has been saved with the new passphrase.");
    Ok(())
}

fn load_known_hosts(path: &Path) -> Result<KnownHosts, Failure> {
    let text = read(path)?;
    KnownHosts::parse(&text).map_err(|e| Failure(255, format!("{}: {e}", path.display())))
}

/// Writes the edited file and keeps the original as `FILE.old`, as ssh-keygen does.
fn replace_known_hosts(path: &Path, text: &str) -> Result<(), Failure> {
    let old = PathBuf::from(format!("{}.old", path.display()));
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let fail = |e: std::io::Error| Failure(255, format!("{}: {e}", path.display()));
    fs::write(&tmp, text).map_err(fail)?;
    let _ = fs::remove_file(&old);
    fs::hard_link(path, &old).map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    println!("{} updated.", path.display());
    println!("Original contents retained as {}", old.display());
    Ok(())
}

/// ssh-keygen rewrites no known_hosts file that has a line it cannot read.
fn refuse_invalid(path: &Path, invalid: &[usize]) -> Result<(), Failure> {
    if invalid.is_empty() {
        return Ok(());
    }
    eprintln!("{} is not a valid known_hosts file.", path.display());
    Err(Failure(1, "Not replacing existing known_hosts file because of errors".into()))
}

/// `-F`: every entry for the host, with ssh-keygen's `# Host … found` header.
fn find_host(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let host = a.host.as_deref().unwrap_or_default();
    let kh = load_known_hosts(path)?;
    let found = kh.find(host);
    for (line_no, entry) in &found {
        let raw = line_no.checked_sub(1).and_then(|i| kh.lines().get(i)).map_or("", |l| l.raw());
        let marker = match entry.marker {
            None => "",
            Some(Marker::CertAuthority) => "CA",
            Some(Marker::Revoked) => "REVOKED",
        };
        println!("# Host {host} found: line {line_no} {marker}");
        println!("{raw}");
    }
    if found.is_empty() { Err(Failure(1, String::new())) } else { Ok(()) }
}

/// `-H`: hash every host name; wildcards and negations stay as they are.
fn hash_file(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let mut kh = load_known_hosts(path)?;
    let original = kh.clone();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let report = kh.hash_all(&mut rng).map_err(|e| Failure(255, format!("{}: {e}", path.display())))?;
    let invalid: Vec<usize> = original.problems().map(|p| p.line).collect();
    // ssh-keygen's messages, in file order.
    let mut notes: Vec<(usize, String)> = report
        .wildcards
        .iter()
        .map(|&n| {
            let raw = n.checked_sub(1).and_then(|i| original.lines().get(i)).map_or("", |l| l.raw());
            let hosts = raw.split_ascii_whitespace().find(|f| !f.starts_with('@')).unwrap_or_default();
            (n, format!("ignoring host name with wildcard: {hosts}"))
        })
        .chain(invalid.iter().map(|&n| (n, "invalid line".to_owned())))
        .collect();
    notes.sort();
    for (n, note) in notes {
        eprintln!("{}:{n}: {note}", path.display());
    }
    refuse_invalid(path, &invalid)?;
    replace_known_hosts(path, &kh.write())?;
    eprintln!("WARNING: {}.old contains unhashed entries", path.display());
    eprintln!("Delete this file to ensure privacy of hostnames");
    Ok(())
}

/// `-R`: remove every entry for the host. Like ssh-keygen, the entries found are listed
/// even when an unreadable line then stops the rewrite.
fn remove_host(a: &Args) -> Result<(), Failure> {
    let path = file(a)?;
    let host = a.host.as_deref().unwrap_or_default();
    let mut kh = load_known_hosts(path)?;
    let invalid: Vec<usize> = kh.problems().map(|p| p.line).collect();
    let removed = kh.remove(host);
    for line_no in &removed {
        println!("# Host {host} found: line {line_no}");
    }
    for n in &invalid {
        eprintln!("{}:{n}: invalid line", path.display());
    }
    refuse_invalid(path, &invalid)?;
    if removed.is_empty() {
        // ssh-keygen says so and succeeds: there is nothing left to remove.
        eprintln!("Host {host} not found in {}", path.display());
        return Ok(());
    }
    replace_known_hosts(path, &kh.write())
}

fn run() -> Result<(), Failure> {
    let a = parse(std::env::args().skip(1))?;
    match a.mode {
        Some('l') => fingerprints(&a),
        Some('y') => public_line(&a),
        Some('t') => generate_key(&a),
        Some('p') => change_passphrase(&a),
        Some('F') => find_host(&a),
        Some('H') => hash_file(&a),
        Some('R') => remove_host(&a),
        _ => Err(usage(
            "usage: keygen -l [-v] [-E hash] -f file | -y [-P pass] -f file | -t type [-b bits] [-N pass] [-C comment] [-m format] -f file | -p [-P old] [-N new] -f file | -F host -f known_hosts | -H -f known_hosts | -R host -f known_hosts",
        )),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, why)) => {
            if !why.is_empty() {
                eprintln!("{why}");
            }
            ExitCode::from(code)
        }
    }
}
