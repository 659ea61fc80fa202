#!/usr/bin/env python3
"""Paramiko as a client running a plan of steps on one connection (driven by the Rust
interop tests of ssh-blocking, through test-support's ScriptProcess).

    paramiko_plan_client.py --port N --user U --known-hosts FILE
                            [--key FILE] [--password PW] [--interactive ANSWER ...]
                            [--cipher NAME] [--agent-sock PATH] [--debug] --plan JSON
                            [--timeout S]

Authentication: with --interactive, a bare Transport runs auth_interactive (the host key is
checked against --known-hosts by hand); otherwise SSHClient.connect with key_filename /
password and RejectPolicy over --known-hosts. The host key must be listed there. --cipher
leaves Paramiko only that cipher (disabled_algorithms).

It prints one JSON line per event on stdout:
    {"event": "auth", "ok": true, "server_key": "type base64", "prompts": [...],
     "cipher": local cipher, "mac": local MAC}
    {"event": "auth", "ok": false, "error": "AuthenticationException", "is_auth_error": bool, "message": "..."}
    {"event": "step", "index": I, "op": OP, ...what the step saw...}
    {"event": "forwarding", "index": I, "port": N}      (then it waits for a stdin line)
    {"event": "done"}
    {"event": "error", "index": I, "error": "...", "message": "..."}

Steps (the JSON plan is a list of objects):
    {"op": "exec", "command": C, "stdin_file"?: F, "stdout_file"?: F, "stderr_file"?: F,
     "env"?: {...}, "env_mode"?: "update" | "set", "forward_agent"?: bool,
     "x11"?: {"protocol": P, "cookie": C, "screen": N}}
        -> stdout / stderr (latin-1, unless written to the files), their lengths, status;
           forward_agent asks for agent forwarding (paramiko.agent.AgentRequestHandler,
           to the agent at --agent-sock); x11 asks for X11 forwarding (request_x11 with a
           handler that answers each X11 channel's bytes upper-cased, with the X client's
           address: "BYTES from ADDR:PORT")
    {"op": "shell", "term": T, "cols": W, "rows": H, "pre_resize"?: [W1, H1], "resize": [W2, H2],
     "env"?: {...}}
        -> the shell's lines (see the Rust handler), status; pre_resize is a resize_pty
           between get_pty and invoke_shell
    {"op": "direct_tcpip", "host": H, "port": P, "data_file": F, "out_file": F}
        -> received length, or refused: true
    {"op": "remote_forward", "address": A, "port": P, "cancel"?: true}
        -> "forwarding" event with the bound port, waits for a stdin line, then a step line
           with the connections its handler served (each echoes what it gets); cancels the
           forward unless "cancel" is false
    {"op": "remote_forward_refused", "address": A, "port": P}
        -> refused: bool
    {"op": "rekey"}
        -> Transport.renegotiate_keys() returned
    {"op": "parallel", "steps": [...]}
        -> the steps (exec, rekey) at once, each in its own thread: {"results": [...]}
"""

import argparse
import json
import logging
import os
import socket
import sys
import threading

import paramiko
import paramiko.agent


def emit(obj):
    print(json.dumps(obj), flush=True)


def key_line(key):
    return f"{key.get_name()} {key.get_base64()}"


def drain(chan, read, sink):
    while True:
        data = read(65536)
        if not data:
            return
        sink.append(data)


def feed(chan, path):
    """Sends the file as stdin in chunks, then EOF."""
    try:
        if path:
            with open(path, "rb") as f:
                while True:
                    block = f.read(1 << 16)
                    if not block:
                        break
                    chan.sendall(block)
    finally:
        chan.shutdown_write()


def x11_answer(chan, origin):
    data = []
    drain(chan, chan.recv, data)
    chan.sendall(b"".join(data).upper() + f" from {origin[0]}:{origin[1]}".encode())
    chan.close()


def x11_handler(chan, origin):
    # Called on Paramiko's transport thread: the answer needs a thread of its own.
    threading.Thread(target=x11_answer, args=(chan, origin), daemon=True).start()


def step_exec(t, client, step, timeout):
    env = step.get("env") or {}
    agent = None
    plain = not step.get("forward_agent") and not step.get("x11")
    if client is not None and step.get("env_mode", "update") == "update" and plain:
        # SSHClient.exec_command: update_environment, then exec.
        stdin, stdout, stderr = client.exec_command(step["command"], environment=env or None, timeout=timeout)
        chan = stdout.channel
    else:
        chan = t.open_session(timeout=timeout)
        chan.settimeout(timeout)
        if step.get("env_mode") == "set":
            for name, value in env.items():
                chan.set_environment_variable(name, value)
        elif env:
            chan.update_environment(env)
        if step.get("forward_agent"):
            agent = paramiko.agent.AgentRequestHandler(chan)
        if step.get("x11"):
            x11 = step["x11"]
            chan.request_x11(
                screen_number=x11["screen"], auth_protocol=x11["protocol"], auth_cookie=x11["cookie"], handler=x11_handler
            )
        chan.exec_command(step["command"])
    err = []
    reader = threading.Thread(target=drain, args=(chan, chan.recv_stderr, err), daemon=True)
    reader.start()
    writer = threading.Thread(target=feed, args=(chan, step.get("stdin_file")), daemon=True)
    writer.start()
    out = []
    drain(chan, chan.recv, out)
    writer.join(timeout)
    reader.join(timeout)
    status = chan.recv_exit_status()
    out, err = b"".join(out), b"".join(err)
    result = {"stdout_len": len(out), "stderr_len": len(err), "status": status}
    for key, data in (("stdout", out), ("stderr", err)):
        if step.get(key + "_file"):
            with open(step[key + "_file"], "wb") as f:
                f.write(data)
        else:
            result[key] = data.decode("latin-1")
    chan.close()
    if agent is not None:
        agent.close()
    result["closed"] = chan.closed
    return result


def read_line(chan, pending):
    """One line of the channel's output (without the newline), or None at EOF."""
    while b"\n" not in pending[0]:
        data = chan.recv(4096)
        if not data:
            return None
        pending[0] += data
    line, _, rest = pending[0].partition(b"\n")
    pending[0] = rest
    return line.decode("latin-1").rstrip("\r")


def step_shell(t, client, step, timeout):
    chan = t.open_session(timeout=timeout)
    chan.settimeout(timeout)
    for name, value in (step.get("env") or {}).items():
        chan.set_environment_variable(name, value)
    chan.get_pty(term=step["term"], width=step["cols"], height=step["rows"])
    if step.get("pre_resize"):
        chan.resize_pty(width=step["pre_resize"][0], height=step["pre_resize"][1])
    chan.invoke_shell()
    pending = [b""]
    lines = [read_line(chan, pending)]
    cols, rows = step["resize"]
    chan.resize_pty(width=cols, height=rows)
    chan.sendall(b"resize?\n")
    lines.append(read_line(chan, pending))
    chan.sendall(b"say hello\n")
    lines.append(read_line(chan, pending))
    chan.sendall(b"exit 3\n")
    while True:
        line = read_line(chan, pending)
        if line is None:
            break
        lines.append(line)
    status = chan.recv_exit_status()
    chan.close()
    return {"lines": lines, "status": status}


def step_direct_tcpip(t, client, step, timeout):
    try:
        chan = t.open_channel("direct-tcpip", (step["host"], step["port"]), ("127.0.0.1", 40000), timeout=timeout)
    except paramiko.ChannelException as e:
        return {"refused": True, "code": e.code}
    chan.settimeout(timeout)
    writer = threading.Thread(target=feed, args=(chan, step["data_file"]), daemon=True)
    writer.start()
    out = []
    drain(chan, chan.recv, out)
    writer.join(timeout)
    out = b"".join(out)
    with open(step["out_file"], "wb") as f:
        f.write(out)
    chan.close()
    return {"refused": False, "received": len(out)}


def echo_channel(chan, record):
    total = 0
    try:
        while True:
            data = chan.recv(65536)
            if not data:
                break
            chan.sendall(data)
            total += len(data)
        chan.shutdown_write()
    finally:
        record["bytes"] = total
        chan.close()


def step_remote_forward(t, client, step, timeout, index):
    served = []
    lock = threading.Lock()
    threads = []

    def handler(chan, origin, server):
        # Called on the transport thread: serve in a thread of our own.
        record = {"origin": list(origin), "server": list(server)}
        with lock:
            served.append(record)
        th = threading.Thread(target=echo_channel, args=(chan, record), daemon=True)
        threads.append(th)
        th.start()

    port = t.request_port_forward(step["address"], step["port"], handler=handler)
    emit({"event": "forwarding", "index": index, "port": port})
    sys.stdin.readline()
    for th in list(threads):
        th.join(timeout)
    if step.get("cancel", True):
        t.cancel_port_forward(step["address"], port)
    with lock:
        return {"port": port, "connections": served}


def step_remote_forward_refused(t, client, step, timeout):
    try:
        t.request_port_forward(step["address"], step["port"])
        return {"refused": False}
    except paramiko.SSHException as e:
        return {"refused": True, "message": str(e)}


def step_rekey(t, client, step, timeout):
    # Paramiko's transport thread answers a peer's CHANNEL_CLOSE through
    # _send_user_message, which waits for the key exchange to finish; a kex started from
    # another thread before that answer is sent therefore deadlocks Paramiko for 30 s
    # (whatever the server). A global request round trip first lets the transport
    # thread finish answering the CLOSEs of earlier steps.
    t.global_request("keepalive@openssh.com", wait=True)
    t.renegotiate_keys()
    return {}


def step_parallel(t, client, step, timeout):
    results = [None] * len(step["steps"])

    def one(i, sub):
        try:
            op = {"exec": step_exec, "rekey": step_rekey}[sub["op"]]
            results[i] = op(t, client, sub, timeout)
        except Exception as e:  # noqa: BLE001 - reported in the results
            results[i] = {"error": type(e).__name__, "message": str(e)}
        results[i]["op"] = sub["op"]

    threads = [threading.Thread(target=one, args=(i, sub), daemon=True) for i, sub in enumerate(step["steps"])]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout * 2)
    return {"results": results}


def connect(args):
    """Returns (transport, client or None, prompts seen)."""
    prompts = []
    disabled = None
    if args.cipher:
        disabled = {"ciphers": [c for c in paramiko.Transport._preferred_ciphers if c != args.cipher]}
    if args.interactive is not None:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
        t = paramiko.Transport(sock, disabled_algorithms=disabled)
        t.start_client(timeout=args.timeout)
        known = paramiko.HostKeys(args.known_hosts)
        if not known.check(f"[127.0.0.1]:{args.port}", t.get_remote_server_key()):
            t.close()
            raise paramiko.SSHException("server key is not in known_hosts")

        def answer(title, instructions, prompt_list):
            prompts.append({"title": title, "instructions": instructions,
                            "prompts": [[p, bool(echo)] for p, echo in prompt_list]})
            return list(args.interactive)

        t.auth_interactive(args.user, answer)
        return t, None, prompts
    client = paramiko.SSHClient()
    client.load_host_keys(args.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
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
        disabled_algorithms=disabled,
    )
    return client.get_transport(), client, prompts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--key")
    ap.add_argument("--password")
    ap.add_argument("--interactive", nargs="*")
    ap.add_argument("--cipher")
    ap.add_argument("--agent-sock")
    ap.add_argument("--debug", action="store_true", help="Paramiko DEBUG logging on stderr")
    ap.add_argument("--plan", default="[]")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR,
        stream=sys.stderr,
        format="paramiko_plan_client %(relativeCreated)d %(threadName)s %(levelname)s: %(message)s",
    )
    plan = json.loads(args.plan)
    if args.agent_sock:
        os.environ["SSH_AUTH_SOCK"] = args.agent_sock
    try:
        t, client, prompts = connect(args)
    except Exception as e:  # noqa: BLE001 - the test decides what was expected
        emit({"event": "auth", "ok": False, "error": type(e).__name__,
              "is_auth_error": isinstance(e, paramiko.AuthenticationException), "message": str(e)})
        return 1
    emit({"event": "auth", "ok": t.is_authenticated(), "server_key": key_line(t.get_remote_server_key()),
          "prompts": prompts, "cipher": t.local_cipher, "mac": t.local_mac})
    index = -1
    try:
        for index, step in enumerate(plan):
            op = step["op"]
            if op == "exec":
                result = step_exec(t, client, step, args.timeout)
            elif op == "shell":
                result = step_shell(t, client, step, args.timeout)
            elif op == "direct_tcpip":
                result = step_direct_tcpip(t, client, step, args.timeout)
            elif op == "remote_forward":
                result = step_remote_forward(t, client, step, args.timeout, index)
            elif op == "remote_forward_refused":
                result = step_remote_forward_refused(t, client, step, args.timeout)
            elif op == "rekey":
                result = step_rekey(t, client, step, args.timeout)
            elif op == "parallel":
                result = step_parallel(t, client, step, args.timeout)
            else:
                raise ValueError(f"unknown op {op}")
            result.update({"event": "step", "index": index, "op": op, "active": t.is_active()})
            emit(result)
        emit({"event": "done"})
        return 0
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "index": index, "error": type(e).__name__, "message": str(e)})
        return 1
    finally:
        if client is not None:
            client.close()
        else:
            t.close()


if __name__ == "__main__":
    sys.exit(main())
