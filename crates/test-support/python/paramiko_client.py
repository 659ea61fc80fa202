#!/usr/bin/env python3
"""Paramiko SSH client for the interop tests (driven by test-support's ParamikoClient).

One case: connect to 127.0.0.1:PORT, restrict each algorithm kind to the given name (when
given), start_client(), then request the ssh-userauth service (auth_none, which the test
servers refuse), and print one JSON line:
    {"ok": true, "kex": ..., "host_key_type": ..., "local_cipher": ..., "remote_cipher": ...,
     "local_mac": ..., "remote_mac": ..., "local_compression": ..., "remote_compression": ...,
     "strict_kex": bool, "server_key": "type base64", "server_cert": "type base64" | null,
     "session_id": hex, "local_port": N, "remote_version": ..., "service_accepted": bool,
     "disconnect": "..." | null}
or {"ok": false, "error": "...", "log": [...]}.

Modes:
    paramiko_client.py --port N [--kex K] [--key-type T] [--cipher C] [--mac M]
                       [--compression Z] [--timeout S]     one case; exit 0 if ok, else 1
    paramiko_client.py --serve                             one JSON case per stdin line
                                                           (same keys as the options), one
                                                           JSON answer per line, until EOF
    paramiko_client.py --list                              the algorithms paramiko supports
"""

import argparse
import itertools
import json
import logging
import socket
import sys

import paramiko

_counter = itertools.count()


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001
            pass


def supported():
    a, b = socket.socketpair()
    try:
        t = paramiko.Transport(a)
        return {
            "paramiko": paramiko.__version__,
            "kex": list(t.preferred_kex),
            # preferred_keys interleaves the -cert-v01 forms, which a client verifies too.
            "keys": [k for k in t.preferred_keys if k in t._key_info],
            "ciphers": list(t.preferred_ciphers),
            "macs": list(t.preferred_macs),
            "compression": list(paramiko.Transport._compression_info.keys()),
        }
    finally:
        a.close()
        b.close()


def run_case(case):
    timeout = float(case.get("timeout", 20))
    name = "paramiko.interop.case{}".format(next(_counter))
    log = logging.getLogger(name)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    collect = Collect()
    log.addHandler(collect)
    sock = None
    t = None
    try:
        sock = socket.create_connection((case.get("host", "127.0.0.1"), int(case["port"])), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local_port = sock.getsockname()[1]
        t = paramiko.Transport(sock)
        t.set_log_channel(name)
        so = t.get_security_options()
        if case.get("kex"):
            so.kex = [case["kex"]]
        if case.get("key_type"):
            so.key_types = [case["key_type"]]
        if case.get("cipher"):
            so.ciphers = [case["cipher"]]
        if case.get("mac"):
            so.digests = [case["mac"]]
        if case.get("compression"):
            so.compression = [case["compression"]]
        t.start_client(timeout=timeout)
        key = t.get_remote_server_key()
        blob = getattr(key, "public_blob", None)
        result = {
            "ok": True,
            "kex": next((m[len("Kex: "):] for m in collect.messages if m.startswith("Kex: ")), None),
            "host_key_type": t.host_key_type,
            "local_cipher": t.local_cipher,
            "remote_cipher": t.remote_cipher,
            "local_mac": t.local_mac,
            "remote_mac": t.remote_mac,
            "local_compression": t.local_compression,
            "remote_compression": t.remote_compression,
            "strict_kex": bool(t.agreed_on_strict_kex),
            "server_key": "{} {}".format(key.get_name(), key.get_base64()),
            "server_cert": None,
            "session_id": t.session_id.hex(),
            "local_port": local_port,
            "remote_version": t.remote_version,
        }
        if blob is not None:
            import base64

            result["server_cert"] = "{} {}".format(blob.key_type, base64.b64encode(blob.key_blob).decode())
        # The service request: auth_none sends SERVICE_REQUEST(ssh-userauth) first; our test
        # servers then refuse (or disconnect at) the USERAUTH_REQUEST.
        auth_error = None
        try:
            t.auth_none("interop")
        except Exception as e:  # noqa: BLE001
            auth_error = repr(e)
        result["service_accepted"] = "userauth is OK" in collect.messages
        result["auth_error"] = auth_error
        result["disconnect"] = next((m for m in collect.messages if m.startswith("Disconnect (code")), None)
        return result
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": repr(e), "log": collect.messages[-15:]}
    finally:
        if t is not None:
            t.close()
        if sock is not None:
            sock.close()
        log.removeHandler(collect)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--port", type=int)
    ap.add_argument("--kex")
    ap.add_argument("--key-type")
    ap.add_argument("--cipher")
    ap.add_argument("--mac")
    ap.add_argument("--compression")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)

    if args.list:
        print(json.dumps(supported()), flush=True)
        return 0
    if args.serve:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                result = run_case(json.loads(line))
            except Exception as e:  # noqa: BLE001
                result = {"ok": False, "error": repr(e), "log": []}
            print(json.dumps(result), flush=True)
        return 0
    if args.port is None:
        ap.error("--port, --serve or --list is required")
    case = {
        "port": args.port,
        "kex": args.kex,
        "key_type": args.key_type,
        "cipher": args.cipher,
        "mac": args.mac,
        "compression": args.compression,
        "timeout": args.timeout,
    }
    result = run_case(case)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    # Never outlive a hung peer: the whole process is bounded too (the Rust side also kills it).
    sys.exit(main())
