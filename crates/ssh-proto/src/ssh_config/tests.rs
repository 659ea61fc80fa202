use proptest::prelude::*;

use super::lexer::{split_args, split_line};
use super::*;

fn me() -> LocalUser {
    LocalUser { user: "me".into(), home: "/home/me".into(), uid: 1000, hostname: "box.local".into() }
}

fn env_with(files: &[(&str, &str)]) -> MemoryEnvironment {
    let mut env = MemoryEnvironment::default();
    for (p, t) in files {
        env.files.insert((*p).into(), (*t).into());
    }
    env
}

fn resolve_text(text: &str, host: &str) -> Result<Resolved, ConfigError> {
    let mut env = env_with(&[("/cfg", text)]);
    resolve(&Query::new(host), &Sources::File("/cfg".into()), &me(), &mut env)
}

#[test]
fn lexer_forms() {
    let l = split_line("  HostName=example.com").unwrap().unwrap();
    assert_eq!((l.keyword.as_str(), l.rest), ("hostname", "example.com"));
    let l = split_line("User = bob # who").unwrap().unwrap();
    assert_eq!((l.keyword.as_str(), l.rest), ("user", "bob # who"));
    assert_eq!(split_args("bob # who").unwrap(), ["bob"]);
    assert_eq!(split_args(r#""a b" c\ d 'e"f' x#y \q"#).unwrap(), ["a b", "c d", "e\"f", "x#y", "\\q"]);
    assert!(split_line("   # comment").unwrap().is_none());
    assert!(split_line("").unwrap().is_none());
    assert!(split_line("User").is_err());
    assert!(split_args("\"open").is_err());
}

#[test]
fn first_value_wins_and_lists_accumulate() {
    let r = resolve_text(
        "Host a*\n User first\n IdentityFile one\nHost *\n User second\n IdentityFile two\n IdentityFile one\n SendEnv A B\n SendEnv -A C\n SetEnv X=1 X=2\n SetEnv Y=3\n",
        "abc",
    )
    .unwrap();
    assert_eq!(r.user(), "first");
    assert_eq!(r.identity_files(), ["one", "two"]);
    assert_eq!(r.send_env(), ["B", "C"]);
    assert_eq!(r.set_env(), [("X".to_owned(), "1".to_owned())]);
    let r = resolve_text("Host !abc *\n User neg\n", "abc").unwrap();
    assert_eq!(r.user(), "me");
}

#[test]
fn includes_relative_tilde_glob_and_depth() {
    let mut env = env_with(&[
        ("/home/me/.ssh/config", "Include conf.d/*\nInclude ~/extra\n"),
        ("/home/me/.ssh/conf.d/a", "Host x\n  User from-a\n"),
        ("/home/me/.ssh/conf.d/b", "Host *\n  Port 2200\n"),
        ("/home/me/extra", "Host *\n  User from-extra\n"),
        ("/etc/ssh/ssh_config", "Include sys.d/*.conf\n"),
        ("/etc/ssh/sys.d/z.conf", "Host *\n  Compression yes\n"),
    ]);
    let r = resolve(&Query::new("x"), &Sources::Standard, &me(), &mut env).unwrap();
    assert_eq!((r.user(), r.port(), r.compression()), ("from-a", 2200, true));

    // `~` is refused in the system configuration.
    let mut env = env_with(&[("/etc/ssh/ssh_config", "Include ~/x\n")]);
    let e = resolve(&Query::new("x"), &Sources::Standard, &me(), &mut env).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("/etc/ssh/ssh_config", 1));

    // A file including itself stops at the depth limit instead of recursing forever.
    let e = resolve_text("Include /cfg\n", "x").unwrap_err();
    assert!(e.to_string().contains("recursive"), "{e}");
    // Include fan-out is bounded too.
    let mut env = env_with(&[("/cfg", "Include /i/*\n")]);
    for i in 0..3 {
        env.files.insert(format!("/i/{i}"), "Include /i/*\n".into());
    }
    assert!(resolve(&Query::new("x"), &Sources::File("/cfg".into()), &me(), &mut env).is_err());
}

#[test]
fn match_inside_include_does_not_leak() {
    let mut env = env_with(&[("/cfg", "Host x\n  Include /inc\n  User kept\n"), ("/inc", "Match host nothing\n")]);
    let r = resolve(&Query::new("x"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!(r.user(), "kept");
}

#[test]
fn errors_name_file_and_line() {
    let mut env = env_with(&[("/cfg", "User a\nInclude /inc\n"), ("/inc", "\n\nBogus yes\n")]);
    let e = resolve(&Query::new("x"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("/inc line 3: Bad configuration option: bogus"), "{e}");
    let e = resolve_text("IgnoreUnknown bog*\nBogus yes\nOther no\n", "x").unwrap_err();
    assert_eq!((e.line, e.kind.clone()), (3, ErrorKind::UnknownKeyword("other".into())));
    assert!(
        resolve(&Query::new("x"), &Sources::File("/missing".into()), &me(), &mut MemoryEnvironment::default()).is_err()
    );
}

#[test]
fn match_exec_runs_through_the_environment() {
    let mut env = env_with(&[(
        "/cfg",
        "Match exec \"check %h %p %r %u %n\"\n  User via-exec\nMatch host nomatch exec never-run\n  Port 1\n",
    )]);
    env.exec_ok.push("check target 22 me me target".into());
    let r = resolve(&Query::new("target"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!(r.user(), "via-exec");
    assert_eq!(env.executed, ["check target 22 me me target"]);
}

#[test]
fn canonicalization_with_domains_cnames_and_final_pass() {
    let text = "CanonicalizeHostname yes\nCanonicalDomains a.test b.test\nCanonicalizePermittedCNAMEs *.b.test:*.cdn.test\n\
                Match canonical host web.b.test\n  User canon\nMatch canonical host web.cdn.test\n  Port 2022\n";
    let mut env = env_with(&[("/cfg", text)]);
    env.names.insert("web.b.test.".into(), "web.b.test".into());
    let r = resolve(&Query::new("WEB"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!((r.hostname(), r.user(), r.port()), ("web.b.test", "canon", 22));

    // A permitted CNAME replaces the name; the final pass sees the target.
    env.names.insert("web.b.test.".into(), "web.cdn.test".into());
    let r = resolve(&Query::new("web"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!((r.hostname(), r.port()), ("web.cdn.test", 2022));

    // Too many dots: left alone (the bare name is still looked up for the CNAME rules).
    env.names.insert("a.b.c".into(), "a.b.c".into());
    let r = resolve(&Query::new("a.b.c"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!(r.hostname(), "a.b.c");

    // No fallback: an unresolvable name is an error.
    let e = resolve_text("CanonicalizeHostname yes\nCanonicalDomains x.test\nCanonicalizeFallbackLocal no\n", "nope")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unresolvable("nope".into()));

    // Proxied hosts are canonicalized only with `always`.
    let mut env =
        env_with(&[("/cfg", "CanonicalizeHostname always\nCanonicalDomains a.test\nProxyCommand nc %h %p\n")]);
    env.names.insert("h.a.test.".into(), "h.a.test".into());
    let r = resolve(&Query::new("h"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!(r.hostname(), "h.a.test");
}

#[test]
fn tokens_and_environment() {
    let mut env = env_with(&[(
        "/cfg",
        "Host *\n  Hostname %h.example\n  User u\n  Port 2200\n  UserKnownHostsFile ${KH}/%h %d/%%\n  ControlPath ~/%C\n  IdentityFile ~/.ssh/%r@%h:%p-%l-%L-%i-%k-%n\n",
    )]);
    env.vars.insert("KH".into(), "/kh".into());
    let r = resolve(&Query::new("srv"), &Sources::File("/cfg".into()), &me(), &mut env).unwrap();
    assert_eq!(r.user_known_hosts_files(), ["/kh/srv.example", "/home/me/%"]);
    let id = r.expand(&r.identity_files()[0], &env).unwrap();
    assert_eq!(id, "/home/me/.ssh/u@srv.example:2200-box.local-box-1000-srv-srv");
    // %C = SHA1("box.local" "srv.example" "2200" "u").
    let hash = r.tokens().connection_hash();
    assert_eq!(hash.len(), 40);
    assert!(r.to_ssh_g().contains(&format!("controlpath /home/me/{hash}\n")));
    assert_eq!(r.expand("${NOPE}", &env), Err(ExpandError::Unset("NOPE".into())));
    assert_eq!(r.expand("%z", &env), Err(ExpandError::UnknownToken('z')));
    assert_eq!(r.expand("50%", &env), Err(ExpandError::TrailingPercent));
    // Hostname takes %h only.
    assert!(resolve_text("Hostname %r.x\n", "h").is_err());
}

#[test]
fn connection_hash_matches_openssh() {
    // `ssh -G` on the reference machine: ControlPath /tmp/%C for root@foo.example:22 from "vm".
    let t = Tokens {
        host: "foo.example".into(),
        original_host: "Foo.Example".into(),
        port: 22,
        remote_user: "root".into(),
        local_user: "root".into(),
        home: "/root".into(),
        uid: 0,
        local_host: "vm".into(),
        key_alias: "Foo.Example".into(),
        jump_host: String::new(),
    };
    assert_eq!(t.connection_hash(), "088d877fc177e44f1386396873941a7ab2ffe38e");
}

#[test]
fn proxy_jump_and_command() {
    let r =
        resolve_text("ProxyJump alice@hop1:2200,[2001:db8::1]:22,ssh://bob@hop3\nProxyCommand ignored\n", "x").unwrap();
    let Proxy::Jump(hops) = r.proxy() else { panic!("{:?}", r.proxy()) };
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[0], JumpHost { user: Some("alice".into()), host: "hop1".into(), port: Some(2200) });
    assert_eq!(hops[1].to_string(), "[2001:db8::1]:22");
    assert_eq!(hops[2], JumpHost { user: Some("bob".into()), host: "hop3".into(), port: None });
    assert_eq!(r.tokens().jump_host, "hop3");
    assert_eq!(
        resolve_text("ProxyCommand nc %h %p\nProxyJump j\n", "x").unwrap().proxy(),
        Proxy::Command("nc %h %p".into())
    );
    assert_eq!(resolve_text("ProxyJump none\nProxyJump j\n", "x").unwrap().proxy(), Proxy::Direct);
    assert_eq!(resolve_text("ProxyCommand none\n", "x").unwrap().proxy(), Proxy::Direct);
    assert!(parse_jump_list("a,,b").is_none());
    assert!(parse_hop("@h").is_none() && parse_hop("h:0").is_none() && parse_hop("[::1").is_none());
}

#[test]
fn typed_view_and_paramiko_style_lookup() {
    let r = resolve_text(
        "Host *\n StrictHostKeyChecking no\n ServerAliveInterval 1m\n ServerAliveCountMax 7\n ConnectTimeout 5\n Compression yes\n \
         Ciphers +aes128-cbc\n LocalForward 8080 db:5432\n RemoteForward 9000 /tmp/s\n DynamicForward 1080\n \
         GlobalKnownHostsFile none\n",
        "h",
    )
    .unwrap();
    assert_eq!(r.strict_host_key_checking(), StrictHostKeyChecking::No);
    assert_eq!((r.server_alive_interval(), r.server_alive_count_max(), r.connect_timeout()), (60, 7, Some(5)));
    assert!(r.compression());
    assert_eq!(r.algorithms().ciphers.as_deref(), Some("+aes128-cbc"));
    assert_eq!(r.local_forwards().len(), 1);
    assert_eq!(r.local_forwards()[0].connect, Some(Endpoint::Tcp { host: Some("db".into()), port: 5432 }));
    assert_eq!(r.dynamic_forwards().len(), 1);
    assert_eq!(r.remote_forwards()[0].connect, Some(Endpoint::Path("/tmp/s".into())));
    assert!(r.global_known_hosts_files().is_empty());
    assert_eq!(r.as_bool("compression"), Some(true));
    assert_eq!(r.as_bool("batchmode"), Some(false));
    assert_eq!(r.as_int("serveraliveinterval"), Some(60));
    assert_eq!(r.get("HostName").as_deref(), Some("h"));
    let map = r.lookup();
    assert_eq!(map["identityfile"].len(), 7);
    assert!(map["ciphers"][0].ends_with(",aes128-cbc"));
    // The crate's own list applier takes the verbatim specification.
    let mut list = crate::algorithm::AlgorithmList::<crate::algorithm::Cipher>::default();
    list.apply_openssh(r.algorithms().ciphers.as_deref().unwrap_or_default()).unwrap();
}

#[test]
fn values_are_checked_in_inactive_blocks() {
    assert!(resolve_text("Host other\n  Port nope\n", "x").is_err());
    assert!(resolve_text("Host other\n  Port 22\n", "x").is_ok());
    assert!(resolve_text("Match all host x\n", "x").is_err());
    assert!(resolve_text("Match !all\n  User no\n", "x").unwrap().user() == "me");
}

#[test]
fn syntax_round_trip_example() {
    let text = "Host a \"b c\"\n  User x # note\nProxyCommand \"nc\" %h\nUser #\n";
    let f = ConfigFile::parse("t", text).unwrap();
    assert_eq!(f.directives[0].args, ["a", "b c"]);
    assert_eq!(f.directives[3].args, Vec::<String>::new());
    let again = ConfigFile::parse("t", &f.to_text()).unwrap();
    let strip = |f: &ConfigFile| f.directives.iter().map(|d| (d.keyword.clone(), d.args.clone())).collect::<Vec<_>>();
    assert_eq!(strip(&f), strip(&again));
}

fn keyword() -> impl Strategy<Value = String> {
    let all: Vec<&'static str> = super::keyword::spellings().collect();
    proptest::sample::select(all).prop_map(str::to_owned)
}

proptest! {
    /// Directives written by `to_text` parse back to the same keywords and arguments.
    #[test]
    fn directives_round_trip(
        ds in proptest::collection::vec((keyword(), proptest::collection::vec("[ -~\t]{0,12}", 0..4)), 0..12)
    ) {
        let file = ConfigFile {
            directives: ds.iter().enumerate().map(|(i, (k, a))| Directive { line: i + 1, keyword: k.clone(), args: a.clone() }).collect(),
        };
        let parsed = ConfigFile::parse("gen", &file.to_text()).unwrap();
        let strip = |f: &ConfigFile| f.directives.iter().map(|d| (d.keyword.clone(), d.args.clone())).collect::<Vec<_>>();
        prop_assert_eq!(strip(&parsed), strip(&file));
    }

    /// Arbitrary text never panics: it resolves or fails with a located error, and a
    /// resolved config prints the same `ssh -G` text twice.
    #[test]
    fn resolution_never_panics(text in "(([A-Za-z]{1,12}|Host|Match|Include|ProxyJump|Hostname)[ =][ -~]{0,30}\n){0,8}", host in "[a-zA-Z0-9.]{1,10}") {
        let mut env = env_with(&[("/cfg", &text), ("/inc", &text)]);
        if let Ok(r) = resolve(&Query::new(host.clone()), &Sources::File("/cfg".into()), &me(), &mut env) {
            prop_assert_eq!(r.to_ssh_g(), r.to_ssh_g());
            let first = format!("host {}\n", host);
            prop_assert!(r.to_ssh_g().starts_with(&first));
        }
    }
}

#[test]
fn long_setenv_lines_stop_at_the_cap_without_quadratic_work() {
    let vars: Vec<String> = (0..60_000).map(|i| format!("V{i}=x")).collect();
    let start = std::time::Instant::now();
    let e = resolve_text(&format!("SetEnv {}\n", vars.join(" ")), "h").err().map(|e| e.kind);
    assert_eq!(e, Some(ErrorKind::TooMany("setenv".into())));
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    // Repeats do not count against the cap, and the first value of each name wins.
    let dups = vec!["A=1"; 10_000].join(" ");
    let r = resolve_text(&format!("SetEnv {dups} B=2 A=3\n"), "h").unwrap();
    assert_eq!(r.set_env(), [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "2".to_owned())]);
}

#[test]
fn sendenv_arguments_are_capped_per_pass() {
    let adds: Vec<String> = (0..4000).map(|i| format!("V{i}")).collect();
    let removals = vec!["-nomatch"; 200_000].join(" ");
    let start = std::time::Instant::now();
    let e = resolve_text(&format!("SendEnv {}\nSendEnv {removals}\n", adds.join(" ")), "h").err().map(|e| e.kind);
    assert_eq!(e, Some(ErrorKind::TooMany("sendenv".into())));
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    // Arguments in blocks that do not apply cost no matching and do not count.
    let text = format!("Host other\n SendEnv {removals}\nHost *\n SendEnv {}\n", adds.join(" "));
    assert_eq!(resolve_text(&text, "h").unwrap().send_env().len(), 4000);
}
