//! known_hosts files (OpenSSH `sshd(8)` "SSH_KNOWN_HOSTS FILE FORMAT"): parse, look up, edit
//! and write, preserving what is not understood.
