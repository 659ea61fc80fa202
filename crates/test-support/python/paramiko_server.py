#!/usr/bin/env python3
"""Paramiko SSH server for the interop tests (started by test-support's ParamikoServer).

Listens on 127.0.0.1 port 0 and prints one JSON line on stdout:
    {"port": N, "paramiko": "5.1.0", "kex": [...], "keys": [...], "ciphers": [...],
     "macs": [...], "compression": [...]}
with the algorithms it offers. Each connection is served in a thread by a paramiko
Transport in server mode. Authentication succeeds only for --authorized-key keys and the
--password password (none given: everything is refused). Authenticated users get session
channels whose exec requests run a toy command language: `echo WORDS`, `stderr WORDS`,
`exit N`, `cat` (echo stdin until EOF), `bulk N` (N bytes of "0123456789abcdef\n" lines),
`env NAME` (a variable set by an env request).

It exits when its stdin closes (its parent died or dropped it) or after --lifetime seconds.
"""

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time

import paramiko


LINE = b"0123456789abcdef\n"


def run_toy(channel, command, env):
    """One exec request, in its own thread."""
    # Paramiko sends the exec reply only after check_channel_exec_request returns: give it
    # time, or a fast command's CLOSE would overtake the reply (a protocol violation peers
    # rightly punish).
    time.sleep(0.05)
    try:
        verb, _, rest = command.partition(" ")
        status = 0
        if verb == "echo":
            channel.sendall((rest + "\n").encode())
        elif verb == "stderr":
            channel.sendall_stderr((rest + "\n").encode())
        elif verb == "env":
            channel.sendall((env.get(rest, "") + "\n").encode())
        elif verb == "exit":
            status = int(rest or "1")
        elif verb == "cat":
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                channel.sendall(data)
        elif verb == "bulk":
            left = int(rest or "0")
            block = LINE * (65536 // len(LINE) + 1)
            sent = 0
            while left > 0:
                offset = sent % len(LINE)
                chunk = block[offset:offset + min(left, 65536)]
                channel.sendall(chunk)
                sent += len(chunk)
                left -= len(chunk)
        else:
            channel.sendall_stderr(b"toy: unknown command\n")
            status = 127
        channel.shutdown_write()
        channel.send_exit_status(status)
    finally:
        channel.close()


class Toy(paramiko.ServerInterface):
    def __init__(self, keys, password):
        self.keys = keys
        self.password = password
        self.env = {}

    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_auth_none(self, username):
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        ok = self.password is not None and password == self.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = any(k.key_blob == key.asbytes() for k in self.keys)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session" and (self.keys or self.password is not None):
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        self.env[name.decode() if isinstance(name, bytes) else name] = (
            value.decode() if isinstance(value, bytes) else value
        )
        return True

    def check_channel_exec_request(self, channel, command):
        command = command.decode() if isinstance(command, bytes) else command
        threading.Thread(target=run_toy, args=(channel, command, dict(self.env)), daemon=True).start()
        return True


def parse_disabled(specs):
    disabled = {}
    for spec in specs:
        kind, _, names = spec.partition("=")
        disabled.setdefault(kind, []).extend(n for n in names.split(",") if n)
    return disabled


def make_transport(sock, args, keys, disabled):
    t = paramiko.Transport(sock, disabled_algorithms=disabled)
    for k in keys:
        t.add_server_key(k)
    if args.compression:
        t.use_compression(True)
    return t


def offered(args, keys, disabled, have_moduli):
    """What a server transport with these settings puts in its KEXINIT."""
    a, b = socket.socketpair()
    try:
        t = make_transport(a, args, keys, disabled)
        kex = [k for k in t.preferred_kex if have_moduli or not k.startswith("diffie-hellman-group-exchange-sha")]
        return {
            "paramiko": paramiko.__version__,
            "kex": kex,
            "keys": [k for k in t.preferred_keys if k in t.server_key_dict],
            "ciphers": list(t.preferred_ciphers),
            "macs": list(t.preferred_macs),
            "compression": list(t.preferred_compression),
        }
    finally:
        a.close()
        b.close()


def serve(conn, addr, args, keys, disabled, authorized):
    t = None
    try:
        t = make_transport(conn, args, keys, disabled)
        t.start_server(server=Toy(authorized, args.password))
        # The transport thread ends when the client disconnects.
        t.join(args.conn_timeout)
    except Exception as e:  # noqa: BLE001 - report and carry on serving
        print(f"paramiko_server: connection from {addr}: {e!r}", file=sys.stderr, flush=True)
    finally:
        if t is not None:
            t.close()
        conn.close()


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-key", action="append", required=True, help="private key file (repeatable)")
    ap.add_argument("--disable", action="append", default=[], help="KIND=name1,name2 (paramiko disabled_algorithms)")
    ap.add_argument("--compression", action="store_true", help="offer zlib@openssh.com and zlib")
    ap.add_argument("--conn-timeout", type=float, default=30.0)
    ap.add_argument("--lifetime", type=float, default=1800.0)
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--authorized-key", action="append", default=[], help="public key file allowed to log in")
    ap.add_argument("--password", help="password allowed to log in")
    args = ap.parse_args()

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR,
        stream=sys.stderr,
        format="paramiko_server %(threadName)s %(name)s %(levelname)s: %(message)s",
    )
    keys = [paramiko.PKey.from_path(p) for p in args.host_key]
    authorized = [paramiko.PublicBlob.from_file(p) for p in args.authorized_key]
    disabled = parse_disabled(args.disable)
    have_moduli = paramiko.Transport.load_server_moduli()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(256)

    info = offered(args, keys, disabled, have_moduli)
    info["port"] = lsock.getsockname()[1]
    print(json.dumps(info), flush=True)

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    timer = threading.Timer(args.lifetime, os._exit, (3,))
    timer.daemon = True
    timer.start()

    while True:
        conn, addr = lsock.accept()
        threading.Thread(target=serve, args=(conn, addr, args, keys, disabled, authorized), daemon=True).start()


if __name__ == "__main__":
    main()
