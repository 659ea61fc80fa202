//! `ssh -G` output: every option with OpenSSH 9.2's defaults filled in, keyword spelling,
//! order and value formatting as Debian's 9.2p1 build prints them (its GSSAPI patch adds
//! the `gssapi*` lines).

use std::fmt::Write;

use super::Resolved;
use super::keyword::AlgoKind;
use super::names;
use super::options::Jump;

/// Debian's default GSSAPI key exchange list.
const GSS_KEX: &str = "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-";

/// Flag-like options in `ssh -G`'s order, with their defaults.
const FLAGS_A: &[(&str, &str)] = &[
    ("addressfamily", "any"),
    ("batchmode", "no"),
    ("canonicalizefallbacklocal", "yes"),
    ("canonicalizehostname", "false"),
    ("checkhostip", "no"),
    ("compression", "no"),
    ("controlmaster", "false"),
    ("enablesshkeysign", "no"),
    ("clearallforwardings", "no"),
    ("exitonforwardfailure", "no"),
    ("fingerprinthash", "SHA256"),
    ("forwardx11", "no"),
    // Debian's build defaults ForwardX11Trusted to yes.
    ("forwardx11trusted", "yes"),
    ("gatewayports", "no"),
    ("gssapiauthentication", "no"),
    ("gssapikeyexchange", "no"),
    ("gssapidelegatecredentials", "no"),
    ("gssapitrustdns", "no"),
    ("gssapirenewalforcesrekey", "no"),
];

const FLAGS_B: &[(&str, &str)] = &[
    ("hashknownhosts", "no"),
    ("hostbasedauthentication", "no"),
    ("identitiesonly", "no"),
    ("kbdinteractiveauthentication", "yes"),
    ("nohostauthenticationforlocalhost", "no"),
    ("passwordauthentication", "yes"),
    ("permitlocalcommand", "no"),
    ("proxyusefdpass", "no"),
    ("pubkeyauthentication", "true"),
    ("requesttty", "auto"),
    ("sessiontype", "default"),
    ("stdinnull", "no"),
    ("forkafterauthentication", "no"),
    ("streamlocalbindunlink", "no"),
    ("stricthostkeychecking", "ask"),
    ("tcpkeepalive", "yes"),
    ("tunnel", "false"),
    ("verifyhostkeydns", "false"),
    ("visualhostkey", "no"),
];

const INTS: &[(&str, &str)] = &[
    ("canonicalizemaxdots", "1"),
    ("connectionattempts", "1"),
    ("forwardx11timeout", "1200"),
    ("numberofpasswordprompts", "3"),
    ("serveralivecountmax", "3"),
    ("serveraliveinterval", "0"),
    ("requiredrsasize", "1024"),
];

/// OpenSSH's default identity files, in order.
pub(crate) const DEFAULT_IDENTITIES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

fn line(out: &mut String, k: &str, v: &str) {
    let _ = writeln!(out, "{k} {v}");
}

pub(crate) fn dump(r: &Resolved) -> String {
    let o = &r.opts;
    let get = |k: &str| o.get(k);
    let mut out = String::with_capacity(8192);
    line(&mut out, "host", &r.host_arg);
    line(&mut out, "user", r.user());
    line(&mut out, "hostname", &r.hostname);
    line(&mut out, "port", &r.port().to_string());
    for (k, d) in FLAGS_A {
        line(&mut out, k, get(k).unwrap_or(d));
    }
    for k in ["gssapiclientidentity", "gssapiserveridentity"] {
        if let Some(v) = get(k) {
            line(&mut out, k, v);
        }
    }
    line(&mut out, "gssapikexalgorithms", get("gssapikexalgorithms").unwrap_or(GSS_KEX));
    let tunnel_cleared = r.forwards_cleared();
    for (k, d) in FLAGS_B {
        let v = match *k {
            "tunnel" if tunnel_cleared => "false",
            _ => get(k).unwrap_or(d),
        };
        line(&mut out, k, v);
    }
    line(&mut out, "updatehostkeys", &r.update_host_keys());
    line(&mut out, "enableescapecommandline", get("enableescapecommandline").unwrap_or("no"));
    for (k, d) in INTS {
        let d = match *k {
            // Debian: BatchMode turns on keepalives unless ServerAliveInterval is set.
            "serveraliveinterval" if get("batchmode") == Some("yes") => "300",
            _ => d,
        };
        line(&mut out, k, get(k).unwrap_or(d));
    }
    let algos = |kind, key: &str| names::assemble(kind, get(key));
    let strings: [(&str, Option<String>); 21] = [
        ("bindaddress", get("bindaddress").map(str::to_owned)),
        ("bindinterface", get("bindinterface").map(str::to_owned)),
        ("ciphers", Some(algos(AlgoKind::Cipher, "ciphers"))),
        ("controlpath", r.expanded.control_path.clone()),
        ("hostkeyalgorithms", Some(algos(AlgoKind::Key, "hostkeyalgorithms"))),
        ("hostkeyalias", get("hostkeyalias").map(str::to_ascii_lowercase)),
        ("hostbasedacceptedalgorithms", Some(algos(AlgoKind::Key, "hostbasedacceptedalgorithms"))),
        ("identityagent", r.expanded.identity_agent.clone()),
        ("ignoreunknown", get("ignoreunknown").map(str::to_owned)),
        ("kbdinteractivedevices", get("kbdinteractivedevices").map(str::to_owned)),
        ("kexalgorithms", Some(algos(AlgoKind::Kex, "kexalgorithms"))),
        ("casignaturealgorithms", Some(algos(AlgoKind::Sig, "casignaturealgorithms"))),
        ("localcommand", r.command("localcommand").map(str::to_owned)),
        ("remotecommand", r.expanded.remote_command.clone()),
        ("loglevel", Some(get("loglevel").unwrap_or("INFO").to_owned())),
        ("macs", Some(algos(AlgoKind::Mac, "macs"))),
        ("pkcs11provider", r.command("pkcs11provider").map(str::to_owned)),
        ("securitykeyprovider", r.command("securitykeyprovider").or(Some("internal")).map(str::to_owned)),
        ("preferredauthentications", get("preferredauthentications").map(str::to_owned)),
        ("pubkeyacceptedalgorithms", Some(algos(AlgoKind::Key, "pubkeyacceptedalgorithms"))),
        ("revokedhostkeys", r.expanded.revoked_host_keys.clone()),
    ];
    for (k, v) in strings {
        // PKCS#11 is printed only by builds with ENABLE_PKCS11 (Debian has it).
        if let Some(v) = v {
            line(&mut out, k, &v);
        }
    }
    line(&mut out, "xauthlocation", get("xauthlocation").unwrap_or("/usr/bin/xauth"));
    if let Some(v) = r.command("knownhostscommand") {
        line(&mut out, "knownhostscommand", v);
    }
    if !tunnel_cleared {
        for f in o.local_forwards.iter().filter(|f| f.connect.is_none()) {
            line(&mut out, "dynamicforward", &f.listen.to_string());
        }
        for f in &r.expanded.local_forwards {
            if let Some(c) = &f.connect {
                let _ = writeln!(out, "localforward {} {c}", f.listen);
            }
        }
        for f in &r.expanded.remote_forwards {
            match &f.connect {
                Some(c) => {
                    let _ = writeln!(out, "remoteforward {} {c}", f.listen);
                }
                // A remote dynamic forward: OpenSSH stores its target as host "socks", port 0.
                None => line(&mut out, "remoteforward", &format!("{} [socks]:0", f.listen)),
            }
        }
    }
    for f in r.identity_files_raw() {
        line(&mut out, "identityfile", f);
    }
    one_line(&mut out, "canonicaldomains", o.lists.get("canonicaldomains").map(Vec::as_slice));
    for (f, _) in &o.certificate_files {
        line(&mut out, "certificatefile", f);
    }
    let global = o.lists.get("globalknownhostsfile").filter(|l| !is_none_list(l));
    let default_global = ["/etc/ssh/ssh_known_hosts".to_owned(), "/etc/ssh/ssh_known_hosts2".to_owned()];
    one_line(
        &mut out,
        "globalknownhostsfile",
        Some(global.map(Vec::as_slice).unwrap_or(match o.lists.contains_key("globalknownhostsfile") {
            true => &[],
            false => &default_global,
        })),
    );
    one_line(&mut out, "userknownhostsfile", Some(&r.expanded.user_known_hosts));
    for e in o.lists.get("sendenv").into_iter().flatten() {
        line(&mut out, "sendenv", e);
    }
    for e in o.lists.get("setenv").into_iter().flatten() {
        line(&mut out, "setenv", e);
    }
    one_line(&mut out, "logverbose", o.lists.get("logverbose").map(Vec::as_slice));
    match o.lists.get("permitremoteopen") {
        None => line(&mut out, "permitremoteopen", "any"),
        Some(l) => one_line(&mut out, "permitremoteopen", Some(l)),
    }
    line(&mut out, "addkeystoagent", get("addkeystoagent").unwrap_or("false"));
    line(&mut out, "forwardagent", r.expanded.forward_agent.as_deref().unwrap_or("no"));
    line(&mut out, "connecttimeout", get("connecttimeout").unwrap_or("none"));
    line(&mut out, "tunneldevice", get("tunneldevice").unwrap_or("any:any"));
    let cnames = r.permitted_cnames();
    let mut cn = String::from("canonicalizePermittedcnames");
    if cnames.is_empty() {
        cn.push_str(" none");
    }
    for (s, t) in cnames {
        let _ = write!(cn, " {s}:{t}");
    }
    let _ = writeln!(out, "{cn}");
    line(&mut out, "controlpersist", get("controlpersist").unwrap_or("no"));
    line(&mut out, "escapechar", get("escapechar").unwrap_or("~"));
    line(&mut out, "ipqos", get("ipqos").unwrap_or("lowdelay throughput"));
    line(&mut out, "rekeylimit", get("rekeylimit").unwrap_or("0 0"));
    line(&mut out, "streamlocalbindmask", get("streamlocalbindmask").unwrap_or("0177"));
    line(&mut out, "syslogfacility", get("syslogfacility").unwrap_or("USER"));
    match &o.jump {
        Some(Jump::Hosts(hops, extra)) => {
            let last = hops.last().map(ToString::to_string).unwrap_or_default();
            match extra {
                Some(e) => line(&mut out, "proxyjump", &format!("{e},{last}")),
                None => line(&mut out, "proxyjump", &last),
            }
        }
        _ => {
            if let Some(p) = r.command("proxycommand") {
                line(&mut out, "proxycommand", p);
            }
        }
    }
    out
}

fn is_none_list(l: &[String]) -> bool {
    matches!(l, [one] if one.eq_ignore_ascii_case("none"))
}

fn one_line(out: &mut String, k: &str, list: Option<&[String]>) {
    let list = list.filter(|l| !l.is_empty() && !is_none_list(l));
    match list {
        None => line(out, k, "none"),
        Some(l) => line(out, k, &l.join(" ")),
    }
}
