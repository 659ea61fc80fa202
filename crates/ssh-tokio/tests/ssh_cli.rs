//! The `ssh-tokio` example keeps the contract of ssh-blocking's `ssh`: the same contract
//! tests (`-G` against the real `ssh -G`, exec streams and exit codes, one-line failures
//! with 255, -L / -R / -N / -A against OpenSSH's sshd, passwords through SSH_ASKPASS) run
//! against it.

#[path = "../../ssh-blocking/tests/ssh_cli.rs"]
mod contract;
