//! The SSH agent protocol (draft-miller-ssh-agent), both sides of the codec, sans-IO.
