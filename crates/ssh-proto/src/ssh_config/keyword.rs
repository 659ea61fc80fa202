//! The keyword table of OpenSSH 9.2's readconf.c (plus Debian's GSSAPI key exchange
//! options): every spelling, the name `ssh -G` prints, and how the value is parsed.

/// A multistate table: accepted value (compared case-insensitively) and the name `ssh -G`
/// prints for it (the first spelling OpenSSH lists for the same internal value).
pub(crate) type States = &'static [(&'static str, &'static str)];

pub(crate) const FLAG: States = &[("true", "yes"), ("false", "no"), ("yes", "yes"), ("no", "no")];
pub(crate) const YES_NO_ASK: States =
    &[("true", "true"), ("false", "false"), ("yes", "true"), ("no", "false"), ("ask", "ask")];
const STRICT: States = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("ask", "ask"),
    ("off", "false"),
    ("accept-new", "accept-new"),
];
const CONTROL_MASTER: States = &[
    ("true", "true"),
    ("yes", "true"),
    ("false", "false"),
    ("no", "false"),
    ("auto", "auto"),
    ("ask", "ask"),
    ("autoask", "autoask"),
];
const TUNNEL: States = &[
    ("ethernet", "ethernet"),
    ("point-to-point", "point-to-point"),
    ("true", "true"),
    ("yes", "true"),
    ("false", "false"),
    ("no", "false"),
];
const REQUEST_TTY: States =
    &[("true", "true"), ("yes", "true"), ("false", "false"), ("no", "false"), ("force", "force"), ("auto", "auto")];
const SESSION_TYPE: States = &[("none", "none"), ("subsystem", "subsystem"), ("default", "default")];
pub(crate) const CANONICALIZE: States =
    &[("true", "true"), ("false", "false"), ("yes", "true"), ("no", "false"), ("always", "always")];
const PUBKEY_AUTH: States = &[
    ("true", "true"),
    ("false", "false"),
    ("yes", "true"),
    ("no", "false"),
    ("unbound", "unbound"),
    ("host-bound", "host-bound"),
];
const COMPRESSION: States = &[("yes", "yes"), ("no", "no")];
const ADDRESS_FAMILY: States = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
pub(crate) const ADD_KEYS: States =
    &[("true", "true"), ("false", "false"), ("yes", "true"), ("no", "false"), ("ask", "ask"), ("confirm", "confirm")];
const FINGERPRINT: States = &[("md5", "MD5"), ("sha256", "SHA256")];
const LOG_LEVEL: States = &[
    // 9.2p1 prints QUIET under its internal name.
    ("quiet", "SILENT"),
    ("fatal", "FATAL"),
    ("error", "ERROR"),
    ("info", "INFO"),
    ("verbose", "VERBOSE"),
    ("debug", "DEBUG"),
    ("debug1", "DEBUG"),
    ("debug2", "DEBUG2"),
    ("debug3", "DEBUG3"),
];
const FACILITY: States = &[
    ("daemon", "DAEMON"),
    ("user", "USER"),
    ("auth", "AUTH"),
    ("authpriv", "AUTHPRIV"),
    ("local0", "LOCAL0"),
    ("local1", "LOCAL1"),
    ("local2", "LOCAL2"),
    ("local3", "LOCAL3"),
    ("local4", "LOCAL4"),
    ("local5", "LOCAL5"),
    ("local6", "LOCAL6"),
    ("local7", "LOCAL7"),
];

/// Which OpenSSH algorithm list an algorithm keyword names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlgoKind {
    Cipher,
    Mac,
    Kex,
    /// Host key and public key algorithms (wildcards allowed).
    Key,
    /// CA signature algorithms (wildcards allowed).
    Sig,
}

/// How a keyword's arguments are read and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One value from a multistate table (case-insensitive).
    States(States),
    /// A decimal integer.
    Int,
    /// A duration (`1h30m`), stored in seconds; `none` leaves it unset.
    Time,
    Port,
    /// One string, first value wins.
    Str,
    /// The rest of the line, verbatim (ProxyCommand, LocalCommand, ...).
    Command,
    Algorithms(AlgoKind),
    IdentityFile,
    CertificateFile,
    /// A whitespace-separated list set by its first line only (known hosts files, ...).
    FirstList {
        none_alone: bool,
        max: usize,
    },
    PermittedCnames,
    SendEnv,
    SetEnv,
    PermitRemoteOpen,
    LocalForward,
    RemoteForward,
    DynamicForward,
    ProxyJump,
    ForwardAgent,
    AddKeysToAgent,
    ControlPersist,
    /// `IPQoS`, `TunnelDevice`, `EscapeChar`, `RekeyLimit`, `StreamLocalBindMask`: an argument
    /// count, normalized where `ssh -G` prints a canonical form.
    Verbatim {
        min: usize,
        max: usize,
    },
    Host,
    Match,
    Include,
    /// Accepted and dropped (`Protocol`, deprecated and unsupported options).
    Ignored,
}

/// One keyword: how OpenSSH prints it and how its value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// The name `ssh -G` prints (the first spelling readconf.c lists for the option).
    pub name: &'static str,
    pub kind: Kind,
}

const fn s(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind }
}

/// `(spelling, spec)`, spellings lowercase.
const TABLE: &[(&str, Spec)] = &[
    ("protocol", s("protocol", Kind::Ignored)),
    ("cipher", s("cipher", Kind::Ignored)),
    ("fallbacktorsh", s("fallbacktorsh", Kind::Ignored)),
    ("globalknownhostsfile2", s("globalknownhostsfile2", Kind::Ignored)),
    ("rhostsauthentication", s("rhostsauthentication", Kind::Ignored)),
    ("userknownhostsfile2", s("userknownhostsfile2", Kind::Ignored)),
    ("useroaming", s("useroaming", Kind::Ignored)),
    ("usersh", s("usersh", Kind::Ignored)),
    ("useprivilegedport", s("useprivilegedport", Kind::Ignored)),
    ("afstokenpassing", s("afstokenpassing", Kind::Ignored)),
    ("kerberosauthentication", s("kerberosauthentication", Kind::Ignored)),
    ("kerberostgtpassing", s("kerberostgtpassing", Kind::Ignored)),
    ("rsaauthentication", s("rsaauthentication", Kind::Ignored)),
    ("rhostsrsaauthentication", s("rhostsrsaauthentication", Kind::Ignored)),
    ("compressionlevel", s("compressionlevel", Kind::Ignored)),
    ("gssapiauthentication", s("gssapiauthentication", Kind::States(FLAG))),
    ("gssapikeyexchange", s("gssapikeyexchange", Kind::States(FLAG))),
    ("gssapidelegatecredentials", s("gssapidelegatecredentials", Kind::States(FLAG))),
    ("gssapitrustdns", s("gssapitrustdns", Kind::States(FLAG))),
    ("gssapirenewalforcesrekey", s("gssapirenewalforcesrekey", Kind::States(FLAG))),
    ("gssapiclientidentity", s("gssapiclientidentity", Kind::Str)),
    ("gssapiserveridentity", s("gssapiserveridentity", Kind::Str)),
    ("gssapikexalgorithms", s("gssapikexalgorithms", Kind::Str)),
    ("pkcs11provider", s("pkcs11provider", Kind::Str)),
    ("smartcarddevice", s("pkcs11provider", Kind::Str)),
    ("forwardagent", s("forwardagent", Kind::ForwardAgent)),
    ("forwardx11", s("forwardx11", Kind::States(FLAG))),
    ("forwardx11trusted", s("forwardx11trusted", Kind::States(FLAG))),
    ("forwardx11timeout", s("forwardx11timeout", Kind::Time)),
    ("exitonforwardfailure", s("exitonforwardfailure", Kind::States(FLAG))),
    ("xauthlocation", s("xauthlocation", Kind::Str)),
    ("gatewayports", s("gatewayports", Kind::States(FLAG))),
    ("passwordauthentication", s("passwordauthentication", Kind::States(FLAG))),
    ("kbdinteractiveauthentication", s("kbdinteractiveauthentication", Kind::States(FLAG))),
    ("kbdinteractivedevices", s("kbdinteractivedevices", Kind::Str)),
    ("challengeresponseauthentication", s("kbdinteractiveauthentication", Kind::States(FLAG))),
    ("skeyauthentication", s("kbdinteractiveauthentication", Kind::States(FLAG))),
    ("tisauthentication", s("kbdinteractiveauthentication", Kind::States(FLAG))),
    ("pubkeyauthentication", s("pubkeyauthentication", Kind::States(PUBKEY_AUTH))),
    ("dsaauthentication", s("pubkeyauthentication", Kind::States(PUBKEY_AUTH))),
    ("hostbasedauthentication", s("hostbasedauthentication", Kind::States(FLAG))),
    ("identityfile", s("identityfile", Kind::IdentityFile)),
    ("identityfile2", s("identityfile", Kind::IdentityFile)),
    ("identitiesonly", s("identitiesonly", Kind::States(FLAG))),
    ("certificatefile", s("certificatefile", Kind::CertificateFile)),
    ("addkeystoagent", s("addkeystoagent", Kind::AddKeysToAgent)),
    ("identityagent", s("identityagent", Kind::Str)),
    ("hostname", s("hostname", Kind::Str)),
    ("hostkeyalias", s("hostkeyalias", Kind::Str)),
    ("proxycommand", s("proxycommand", Kind::Command)),
    ("port", s("port", Kind::Port)),
    ("ciphers", s("ciphers", Kind::Algorithms(AlgoKind::Cipher))),
    ("macs", s("macs", Kind::Algorithms(AlgoKind::Mac))),
    ("remoteforward", s("remoteforward", Kind::RemoteForward)),
    ("localforward", s("localforward", Kind::LocalForward)),
    ("permitremoteopen", s("permitremoteopen", Kind::PermitRemoteOpen)),
    ("user", s("user", Kind::Str)),
    ("host", s("host", Kind::Host)),
    ("match", s("match", Kind::Match)),
    ("escapechar", s("escapechar", Kind::Verbatim { min: 1, max: 1 })),
    ("globalknownhostsfile", s("globalknownhostsfile", Kind::FirstList { none_alone: true, max: 32 })),
    ("userknownhostsfile", s("userknownhostsfile", Kind::FirstList { none_alone: true, max: 32 })),
    ("connectionattempts", s("connectionattempts", Kind::Int)),
    ("batchmode", s("batchmode", Kind::States(FLAG))),
    ("checkhostip", s("checkhostip", Kind::States(FLAG))),
    ("stricthostkeychecking", s("stricthostkeychecking", Kind::States(STRICT))),
    ("compression", s("compression", Kind::States(COMPRESSION))),
    ("tcpkeepalive", s("tcpkeepalive", Kind::States(FLAG))),
    ("keepalive", s("tcpkeepalive", Kind::States(FLAG))),
    ("numberofpasswordprompts", s("numberofpasswordprompts", Kind::Int)),
    ("syslogfacility", s("syslogfacility", Kind::States(FACILITY))),
    ("loglevel", s("loglevel", Kind::States(LOG_LEVEL))),
    ("logverbose", s("logverbose", Kind::FirstList { none_alone: true, max: 4096 })),
    ("dynamicforward", s("dynamicforward", Kind::DynamicForward)),
    ("preferredauthentications", s("preferredauthentications", Kind::Str)),
    ("hostkeyalgorithms", s("hostkeyalgorithms", Kind::Algorithms(AlgoKind::Key))),
    ("casignaturealgorithms", s("casignaturealgorithms", Kind::Algorithms(AlgoKind::Sig))),
    ("bindaddress", s("bindaddress", Kind::Str)),
    ("bindinterface", s("bindinterface", Kind::Str)),
    ("clearallforwardings", s("clearallforwardings", Kind::States(FLAG))),
    ("enablesshkeysign", s("enablesshkeysign", Kind::States(FLAG))),
    ("verifyhostkeydns", s("verifyhostkeydns", Kind::States(YES_NO_ASK))),
    ("nohostauthenticationforlocalhost", s("nohostauthenticationforlocalhost", Kind::States(FLAG))),
    ("rekeylimit", s("rekeylimit", Kind::Verbatim { min: 1, max: 2 })),
    ("connecttimeout", s("connecttimeout", Kind::Time)),
    ("addressfamily", s("addressfamily", Kind::States(ADDRESS_FAMILY))),
    ("serveraliveinterval", s("serveraliveinterval", Kind::Time)),
    ("serveralivecountmax", s("serveralivecountmax", Kind::Int)),
    ("sendenv", s("sendenv", Kind::SendEnv)),
    ("setenv", s("setenv", Kind::SetEnv)),
    ("controlpath", s("controlpath", Kind::Str)),
    ("controlmaster", s("controlmaster", Kind::States(CONTROL_MASTER))),
    ("controlpersist", s("controlpersist", Kind::ControlPersist)),
    ("hashknownhosts", s("hashknownhosts", Kind::States(FLAG))),
    ("include", s("include", Kind::Include)),
    ("tunnel", s("tunnel", Kind::States(TUNNEL))),
    ("tunneldevice", s("tunneldevice", Kind::Verbatim { min: 1, max: 1 })),
    ("localcommand", s("localcommand", Kind::Command)),
    ("permitlocalcommand", s("permitlocalcommand", Kind::States(FLAG))),
    ("remotecommand", s("remotecommand", Kind::Command)),
    ("visualhostkey", s("visualhostkey", Kind::States(FLAG))),
    ("kexalgorithms", s("kexalgorithms", Kind::Algorithms(AlgoKind::Kex))),
    ("ipqos", s("ipqos", Kind::Verbatim { min: 1, max: 2 })),
    ("requesttty", s("requesttty", Kind::States(REQUEST_TTY))),
    ("sessiontype", s("sessiontype", Kind::States(SESSION_TYPE))),
    ("stdinnull", s("stdinnull", Kind::States(FLAG))),
    ("forkafterauthentication", s("forkafterauthentication", Kind::States(FLAG))),
    ("proxyusefdpass", s("proxyusefdpass", Kind::States(FLAG))),
    ("canonicaldomains", s("canonicaldomains", Kind::FirstList { none_alone: true, max: 32 })),
    ("canonicalizefallbacklocal", s("canonicalizefallbacklocal", Kind::States(FLAG))),
    ("canonicalizehostname", s("canonicalizehostname", Kind::States(CANONICALIZE))),
    ("canonicalizemaxdots", s("canonicalizemaxdots", Kind::Int)),
    ("canonicalizepermittedcnames", s("canonicalizePermittedcnames", Kind::PermittedCnames)),
    ("streamlocalbindmask", s("streamlocalbindmask", Kind::Verbatim { min: 1, max: 1 })),
    ("streamlocalbindunlink", s("streamlocalbindunlink", Kind::States(FLAG))),
    ("revokedhostkeys", s("revokedhostkeys", Kind::Str)),
    ("fingerprinthash", s("fingerprinthash", Kind::States(FINGERPRINT))),
    ("updatehostkeys", s("updatehostkeys", Kind::States(YES_NO_ASK))),
    ("hostbasedacceptedalgorithms", s("hostbasedacceptedalgorithms", Kind::Algorithms(AlgoKind::Key))),
    ("hostbasedkeytypes", s("hostbasedacceptedalgorithms", Kind::Algorithms(AlgoKind::Key))),
    ("pubkeyacceptedalgorithms", s("pubkeyacceptedalgorithms", Kind::Algorithms(AlgoKind::Key))),
    ("pubkeyacceptedkeytypes", s("pubkeyacceptedalgorithms", Kind::Algorithms(AlgoKind::Key))),
    ("ignoreunknown", s("ignoreunknown", Kind::Str)),
    ("proxyjump", s("proxyjump", Kind::ProxyJump)),
    ("securitykeyprovider", s("securitykeyprovider", Kind::Str)),
    ("knownhostscommand", s("knownhostscommand", Kind::Command)),
    ("requiredrsasize", s("requiredrsasize", Kind::Int)),
    ("enableescapecommandline", s("enableescapecommandline", Kind::States(FLAG))),
];

/// The spec of a keyword (already lowercased), or `None` when OpenSSH does not know it.
pub(crate) fn lookup(keyword: &str) -> Option<Spec> {
    TABLE.iter().find(|(k, _)| *k == keyword).map(|(_, s)| *s)
}

/// Every keyword spelling (for tests and generators).
#[cfg(test)]
pub(crate) fn spellings() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(k, _)| *k)
}
