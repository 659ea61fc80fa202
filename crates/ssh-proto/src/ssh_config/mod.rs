//! ssh_config(5): parsing and host resolution with OpenSSH's semantics; file, environment and
//! resolver access come in through [`Environment`]-style traits from the driver.
