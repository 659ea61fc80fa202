#!/usr/bin/env python3
"""A Paramiko server with sessions, forwarding both ways and keyboard-interactive, for the
ssh-blocking client's interop tests (started through test-support's ScriptProcess).

    paramiko_app_server.py --host-key FILE [--authorized-key FILE ...] [--password PW]
                           [--interactive ANSWER ...] [--lifetime S] [--debug]

Listens on 127.0.0.1 port 0 and prints {"port": N} on stdout. It exits when its stdin
closes or after --lifetime seconds.

Authentication: publickey for --authorized-key keys, password --password, and with
--interactive keyboard-interactive with the prompts "Password: " (no echo) and "Code: "
(echo) whose answers must be the given ones.

Session channels (environment per channel, every variable accepted except names starting
with "REFUSED_"):
  exec  `echo WORDS`       WORDS and a newline on stdout, exit 0
        `stderr WORDS`     WORDS and a newline on stderr, exit 0
        `mixed`            "out\\n" on stdout, "err\\n" on stderr, exit 7
        `exit N`           nothing, exit N
        `cat`              stdin echoed until EOF, exit 0
        `flood N`          N bytes of "0123456789abcdef\n" lines on stdout and N of
                           "fedcba9876543210\n" lines on stderr, interleaved, exit 0
        `env NAME`         the variable's value and a newline ("<unset>" when unset)
        anything else      "unknown command" on stderr, exit 127
  pty-req + shell          first line "pty TERM COLSxROWS", then per input line:
                           `size` -> "size COLSxROWS" (window-change applied),
                           `env NAME` -> the value, `exit N` -> ends with status N,
                           anything else -> "echo: LINE"
direct-tcpip to 127.0.0.1 only: connects to the target and copies both ways.
tcpip-forward: binds 127.0.0.1 on the asked port (0: any) and opens a forwarded-tcpip
channel for each TCP connection to it, copying both ways; cancel-tcpip-forward closes it.
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


def pump(chan, sock):
    """Copies both ways between a channel and a socket, passing each EOF on."""

    def up():
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chan.sendall(data)
        except OSError:
            pass
        finally:
            try:
                chan.shutdown_write()
            except Exception:  # noqa: BLE001
                pass

    th = threading.Thread(target=up, daemon=True)
    th.start()
    try:
        while True:
            data = chan.recv(65536)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    th.join(60)
    chan.close()
    sock.close()


def finish(chan, status):
    try:
        chan.shutdown_write()
        chan.send_exit_status(status)
    finally:
        chan.close()


def run_exec(chan, command, env, x11=None):
    # The exec reply goes out only after check_channel_exec_request returns: let it, or a
    # fast command's CLOSE would overtake it.
    time.sleep(0.05)
    verb, _, rest = command.partition(" ")
    status = 0
    if verb == "echo":
        chan.sendall((rest + "\n").encode())
    elif verb == "stderr":
        chan.sendall_stderr((rest + "\n").encode())
    elif verb == "mixed":
        chan.sendall(b"out\n")
        chan.sendall_stderr(b"err\n")
        status = 7
    elif verb == "exit":
        status = int(rest or "1")
    elif verb == "cat":
        while True:
            data = chan.recv(65536)
            if not data:
                break
            chan.sendall(data)
    elif verb == "flood":
        left = int(rest or "0")
        outs = (b"0123456789abcdef\n" * 4096, b"fedcba9876543210\n" * 4096)
        sent = 0
        while sent < left:
            n = min(len(outs[0]), left - sent)
            chan.sendall(outs[0][:n])
            chan.sendall_stderr(outs[1][:n])
            sent += n
    elif verb == "env":
        chan.sendall((env.get(rest, "<unset>") + "\n").encode())
    elif verb == "x11" and x11 is not None:
        # One X client through the client's display (Transport.open_x11_channel).
        display = chan.transport.open_x11_channel(("127.0.0.1", 6010))
        display.sendall(b"hello display")
        display.shutdown_write()
        back = []
        while True:
            data = display.recv(65536)
            if not data:
                break
            back.append(data)
        display.close()
        proto, cookie, screen = x11
        chan.sendall(b"".join(back) + f" {proto} {cookie} {screen}\n".encode())
    else:
        chan.sendall_stderr(b"unknown command\n")
        status = 127
    finish(chan, status)


def run_shell(chan, state):
    time.sleep(0.05)
    pending = b""
    status = 0
    chan.sendall(f"pty {state['term']} {state['cols']}x{state['rows']}\n".encode())
    while True:
        data = chan.recv(4096)
        if not data:
            break
        pending += data
        done = False
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            line = line.decode("latin-1").rstrip("\r")
            if line == "size":
                chan.sendall(f"size {state['cols']}x{state['rows']}\n".encode())
            elif line.startswith("env "):
                chan.sendall((state["env"].get(line[4:], "<unset>") + "\n").encode())
            elif line.startswith("exit"):
                status = int(line[4:].strip() or "0")
                done = True
                break
            else:
                chan.sendall(f"echo: {line}\n".encode())
        if done:
            break
    finish(chan, status)


def text(v):
    return v.decode() if isinstance(v, bytes) else v


class App(paramiko.ServerInterface):
    def __init__(self, args, authorized):
        self.args = args
        self.authorized = authorized
        self.transport = None
        self.channels = {}  # chanid -> {"env": {}, "term": ..., "cols": ..., "rows": ...}
        self.direct = {}  # chanid -> (host, port)
        self.forwards = {}  # (address, port) -> listening socket
        self.lock = threading.Lock()

    def state(self, channel):
        with self.lock:
            return self.channels.setdefault(channel.get_id(), {"env": {}, "term": None, "cols": 0, "rows": 0})

    def get_allowed_auths(self, username):
        methods = []
        if self.authorized:
            methods.append("publickey")
        if self.args.password is not None:
            methods.append("password")
        if self.args.interactive is not None:
            methods.append("keyboard-interactive")
        return ",".join(methods)

    def check_auth_none(self, username):
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        ok = self.args.password is not None and password == self.args.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = any(k.key_blob == key.asbytes() for k in self.authorized)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_interactive(self, username, submethods):
        if self.args.interactive is None:
            return paramiko.AUTH_FAILED
        q = paramiko.InteractiveQuery("two questions", "answer both")
        q.add_prompt("Password: ", False)
        q.add_prompt("Code: ", True)
        return q

    def check_auth_interactive_response(self, responses):
        ok = list(responses) == list(self.args.interactive)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            # Channel ids are reused: a new session starts with a clean state.
            with self.lock:
                self.channels[chanid] = {"env": {}, "term": None, "cols": 0, "rows": 0}
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_direct_tcpip_request(self, chanid, origin, destination):
        host, port = destination
        if host != "127.0.0.1":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        with self.lock:
            self.direct[chanid] = (host, port)
        return paramiko.OPEN_SUCCEEDED

    def check_channel_env_request(self, channel, name, value):
        name, value = text(name), text(value)
        if name.startswith("REFUSED_"):
            return False
        self.state(channel)["env"][name] = value
        return True

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth, pixelheight, modes):
        st = self.state(channel)
        st.update(term=text(term), cols=width, rows=height)
        return True

    def check_channel_window_change_request(self, channel, width, height, pixelwidth, pixelheight):
        st = self.state(channel)
        st.update(cols=width, rows=height)
        return True

    def check_channel_shell_request(self, channel):
        st = self.state(channel)
        if st["term"] is None:
            return False
        threading.Thread(target=run_shell, args=(channel, st), daemon=True).start()
        return True

    def check_channel_x11_request(self, channel, single_connection, auth_protocol, auth_cookie, screen_number):
        self.state(channel)["x11"] = (text(auth_protocol), text(auth_cookie), screen_number)
        return True

    def check_channel_exec_request(self, channel, command):
        st = self.state(channel)
        env = dict(st["env"])
        threading.Thread(target=run_exec, args=(channel, text(command), env, st.get("x11")), daemon=True).start()
        return True

    def check_port_forward_request(self, address, port):
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            lsock.bind(("127.0.0.1", port))
        except OSError:
            lsock.close()
            return False
        lsock.listen(16)
        bound = lsock.getsockname()[1]
        with self.lock:
            self.forwards[(text(address), bound)] = lsock
        threading.Thread(target=self.forward_accept, args=(lsock, text(address), bound), daemon=True).start()
        return bound

    def cancel_port_forward_request(self, address, port):
        with self.lock:
            lsock = self.forwards.pop((text(address), port), None)
        if lsock is not None:
            try:
                lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            lsock.close()

    def forward_accept(self, lsock, address, bound):
        while True:
            try:
                sock, peer = lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.forward_one, args=(sock, peer, address, bound), daemon=True).start()

    def forward_one(self, sock, peer, address, bound):
        try:
            chan = self.transport.open_forwarded_tcpip_channel(peer, (address, bound))
        except Exception as e:  # noqa: BLE001
            print(f"paramiko_app_server: forwarded-tcpip {address}:{bound} from {peer} refused: {e!r}",
                  file=sys.stderr, flush=True)
            sock.close()
            return
        pump(chan, sock)

    def serve_direct(self, t):
        """Takes the channels the client opened off the accept queue; direct-tcpip ones
        are connected to their target."""
        while t.is_active():
            chan = t.accept(0.5)
            if chan is None:
                continue
            with self.lock:
                dest = self.direct.pop(chan.get_id(), None)
            if dest is None:
                continue  # a session: its requests drive it
            try:
                sock = socket.create_connection(dest, timeout=10)
                sock.settimeout(None)
            except OSError:
                chan.close()
                continue
            threading.Thread(target=pump, args=(chan, sock), daemon=True).start()

    def close_forwards(self):
        with self.lock:
            socks = list(self.forwards.values())
            self.forwards.clear()
        for s in socks:
            s.close()


def serve(conn, addr, args, keys, authorized):
    t = None
    app = App(args, authorized)
    try:
        t = paramiko.Transport(conn)
        for k in keys:
            t.add_server_key(k)
        app.transport = t
        t.start_server(server=app)
        app.serve_direct(t)
    except Exception as e:  # noqa: BLE001 - report and carry on serving
        print(f"paramiko_app_server: connection from {addr}: {e!r}", file=sys.stderr, flush=True)
    finally:
        app.close_forwards()
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
    ap.add_argument("--host-key", action="append", required=True)
    ap.add_argument("--authorized-key", action="append", default=[])
    ap.add_argument("--password")
    ap.add_argument("--interactive", nargs="*")
    ap.add_argument("--lifetime", type=float, default=600.0)
    ap.add_argument("--debug", action="store_true", help="Paramiko DEBUG logging on stderr")
    args = ap.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR,
        stream=sys.stderr,
        format="paramiko_app_server %(threadName)s %(levelname)s: %(message)s",
    )
    keys = [paramiko.PKey.from_path(p) for p in args.host_key]
    authorized = [paramiko.PublicBlob.from_file(p) for p in args.authorized_key]

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print(json.dumps({"port": lsock.getsockname()[1], "paramiko": paramiko.__version__}), flush=True)

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    timer = threading.Timer(args.lifetime, os._exit, (3,))
    timer.daemon = True
    timer.start()
    while True:
        conn, addr = lsock.accept()
        threading.Thread(target=serve, args=(conn, addr, args, keys, authorized), daemon=True).start()


if __name__ == "__main__":
    main()
