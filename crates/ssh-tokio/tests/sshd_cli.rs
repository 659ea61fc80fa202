//! The `sshd-tokio` example keeps the contract of ssh-blocking's `sshd`: the same contract
//! tests (OpenSSH's `ssh` driving flags, the ready line, exit codes, exec streams and
//! status, environment, pseudo-terminals, forwarding, agent forwarding, passwords,
//! algorithm options, signals, sftp and a clean SIGTERM) run against it.

#[path = "../../ssh-blocking/tests/sshd_cli.rs"]
mod contract;
