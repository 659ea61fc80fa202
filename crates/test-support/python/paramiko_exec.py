#!/usr/bin/env python3
"""Paramiko's SSHClient running one command (driven by the Rust interop tests).

    paramiko_exec.py --port N --user U (--key FILE | --password PW) --command CMD
                     [--stdin-file FILE] [--timeout S]

Prints one JSON line: {"ok": true, "stdout": "...", "stderr": "...", "status": N,
"transport": {"kex": ..., "cipher": ...}} or {"ok": false, "error": "..."}.
"""

import argparse
import json
import sys

import paramiko


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--key")
    ap.add_argument("--password")
    ap.add_argument("--command", required=True)
    ap.add_argument("--stdin-file")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            "127.0.0.1",
            port=args.port,
            username=args.user,
            key_filename=args.key,
            password=args.password,
            allow_agent=False,
            look_for_keys=False,
            timeout=args.timeout,
            banner_timeout=args.timeout,
            auth_timeout=args.timeout,
        )
        stdin, stdout, stderr = client.exec_command(args.command, timeout=args.timeout)
        if args.stdin_file:
            with open(args.stdin_file, "rb") as f:
                stdin.write(f.read())
        stdin.channel.shutdown_write()
        out = stdout.read()
        err = stderr.read()
        status = stdout.channel.recv_exit_status()
        t = client.get_transport()
        print(json.dumps({
            "ok": True,
            "stdout": out.decode("latin-1"),
            "stderr": err.decode("latin-1"),
            "status": status,
            "transport": {"cipher": t.local_cipher, "remote_version": t.remote_version},
        }), flush=True)
        return 0
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"ok": False, "error": repr(e)}), flush=True)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
