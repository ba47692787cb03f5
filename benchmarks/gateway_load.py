#!/usr/bin/env python3
"""A small load generator for benchmarks/gateway-bench.sh (Python standard library only).

Sends chat requests at a fixed concurrency, each worker on its own keep-alive connection, either
through the gateway (HTTP over TCP, with an API key) or to the engine directly (HTTP over its
Unix socket, with the exact body the gateway would forward: for llama-server messages,
max_tokens, temperature 0, stream false, the `lora` list naming every adapter, cache_prompt
false; for vLLM (--engine vllm) the same with the adapter as `model` instead of the list).
Timings are taken from just before a request is sent to just after its whole body has been read.

    gateway_load.py compare  --port P --key K --socket S [--concurrency 1 8] [--requests N] ...
    gateway_load.py adapters --port P --key K [--concurrency 1 8] [--requests N] ...

`compare` measures direct and gateway on the same requests, in interleaved rounds (so that any
drift in the machine's load hits both alike); `adapters` measures, through the gateway, requests
that switch adapter on every request against the same requests grouped so that the adapter
changes once per round. Each prints one JSON object (per configuration: latencies in seconds,
wall seconds, completion tokens, errors) on stdout.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time

PROMPT = "Is water damage covered?"
# The runtime loads the bundle's adapters in manifest order: lora id 0 is claims, 1 is legal.
ADAPTER_IDS = {"claims": 0, "legal": 1}
EXPECTED = {"claims": "Claim approved", "legal": "Pursuant to Clause 7(b)"}


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over an AF_UNIX stream socket (llama-server's --host PATH.sock)."""

    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Target:
    """Where requests go and how their bodies look."""

    def __init__(self, name, args):
        self.name = name
        self.args = args

    def connection(self):
        if self.name == "direct":
            return UnixHTTPConnection(self.args.socket)
        connection = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=120)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def request(self, adapter):
        messages = [{"role": "user", "content": PROMPT}]
        if self.name == "direct" and self.args.engine == "vllm":
            body = {"messages": messages, "max_tokens": self.args.max_tokens, "temperature": 0, "stream": False,
                    "model": adapter}
            return "/v1/chat/completions", json.dumps(body, separators=(",", ":")).encode(), {
                "Content-Type": "application/json"}
        if self.name == "direct":
            lora = [{"id": i, "scale": 1 if i == ADAPTER_IDS[adapter] else 0} for i in sorted(ADAPTER_IDS.values())]
            body = {"messages": messages, "max_tokens": self.args.max_tokens, "temperature": 0, "stream": False,
                    "lora": lora, "cache_prompt": False}
            return "/v1/chat/completions", json.dumps(body, separators=(",", ":")).encode(), {
                "Content-Type": "application/json"}
        body = {"model": adapter, "messages": messages, "max_tokens": self.args.max_tokens, "temperature": 0}
        return "/v1/chat/completions", json.dumps(body, separators=(",", ":")).encode(), {
            "Content-Type": "application/json", "Authorization": "Bearer " + self.args.key}


def run_block(target, adapters, concurrency):
    """Sends one request per entry of `adapters` (in order, shared by the workers) and returns
    (latencies, wall seconds, completion tokens, errors)."""
    lock = threading.Lock()
    state = {"next": 0}
    latencies, tokens, errors = [], [], []

    def worker():
        connection = None
        while True:
            with lock:
                index = state["next"]
                state["next"] += 1
            if index >= len(adapters):
                break
            adapter = adapters[index]
            path, body, headers = target.request(adapter)
            for attempt in (1, 2):  # one retry only for a keep-alive connection the peer closed
                try:
                    if connection is None:
                        connection = target.connection()
                    start = time.perf_counter()
                    connection.request("POST", path, body, headers)
                    response = connection.getresponse()
                    data = response.read()
                    elapsed = time.perf_counter() - start
                    if response.getheader("Connection", "").lower() == "close":
                        connection.close()
                        connection = None
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                    if connection is not None:
                        connection.close()
                    connection = None
                    if attempt == 2:
                        with lock:
                            errors.append(f"{type(error).__name__}: {error}")
                        data, response = None, None
            if response is None:
                continue
            if response.status != 200:
                with lock:
                    errors.append(f"HTTP {response.status}: {data[:200]!r}")
                continue
            answer = json.loads(data)
            text = answer["choices"][0]["message"]["content"] or ""
            with lock:
                latencies.append(elapsed)
                tokens.append(answer.get("usage", {}).get("completion_tokens", 0))
                # The vLLM demo model has random weights: any text will do, but some text.
                if (EXPECTED[adapter] not in text) if args_engine(target) == "llama-server" else not text:
                    errors.append(f"{adapter}: unexpected answer {text[:80]!r}")
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start, tokens, errors


def args_engine(target):
    return target.args.engine


def process_usage(pid):
    """(CPU seconds, context switches) of process `pid` so far: user + system time of all its
    threads (/proc/PID/stat), and voluntary + involuntary switches of its live threads
    (/proc/PID/task/*/status). (0, 0) without a pid."""
    if not pid:
        return 0.0, 0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        switches += int(line.split()[-1])
        except FileNotFoundError:
            pass
    return cpu, switches


def measured_block(target, adapters, concurrency, args, tally):
    """run_block, with the gateway process's CPU time and context switches over the block
    counted into `tally` when the target is the gateway and its pid is known."""
    pid = args.gateway_pid if target.name == "gateway" else None
    cpu_before, switches_before = process_usage(pid)
    block = run_block(target, adapters, concurrency)
    cpu_after, switches_after = process_usage(pid)
    if pid:
        tally.cpu += cpu_after - cpu_before
        tally.switches += switches_after - switches_before
        tally.measured += len(adapters)
    return block


def gateway_ready(args, tally):
    """Waits (at most 30 s) until the gateway's /health says the runtime answers; counts the
    times it did not at first ask (the gateway marks the runtime down when one health probe
    fails, and answers 503 at once until a probe succeeds)."""
    deadline = time.monotonic() + 30
    first = True
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
            connection.request("GET", "/health")
            status = connection.getresponse().status
            connection.close()
        except OSError:
            status = 0
        if status == 200:
            return
        if first:
            tally.health_waits += 1
            first = False
        if time.monotonic() > deadline:
            raise SystemExit("the gateway's runtime stayed down for 30 s")
        time.sleep(0.05)


class Tally:
    def __init__(self):
        self.latencies, self.wall, self.tokens, self.errors = [], 0.0, 0, []
        self.health_waits = 0
        # The gateway process's CPU seconds and context switches over `measured` requests.
        self.cpu, self.switches, self.measured = 0.0, 0, 0
        # Each block (one round of one side) on its own: requests, wall seconds, median latency.
        self.blocks = []

    def add(self, block):
        latencies, wall, tokens, errors = block
        ordered = sorted(latencies)
        self.blocks.append({"requests": len(latencies), "wall": wall,
                            "median": ordered[len(ordered) // 2] if ordered else None})
        self.latencies += latencies
        self.wall += wall
        self.tokens += sum(tokens)
        self.errors += errors

    def summary(self):
        return {"latencies": self.latencies, "wall": self.wall, "tokens": self.tokens,
                "errors": len(self.errors), "first_errors": self.errors[:5], "health_waits": self.health_waits,
                "load": os.getloadavg()[0], "gateway_cpu_s": self.cpu, "gateway_switches": self.switches,
                "gateway_measured": self.measured, "blocks": self.blocks}


def compare(args):
    targets = [Target("direct", args), Target("gateway", args)]
    result = {}
    for target in targets:  # warm-up: connections, caches, the runtime's first requests
        if target.name == "gateway":
            gateway_ready(args, Tally())
        run_block(target, ["claims"] * args.warmup, 1)
    for concurrency in args.concurrency:
        tallies = {target.name: Tally() for target in targets}
        per_round = args.requests // args.rounds
        for round_number in range(args.rounds):
            order = targets if round_number % 2 == 0 else targets[::-1]
            for target in order:
                if target.name == "gateway":
                    gateway_ready(args, tallies["gateway"])
                tallies[target.name].add(measured_block(target, [args.adapter] * per_round, concurrency, args, tallies[target.name]))
        for name, tally in tallies.items():
            result[f"{name} c{concurrency}"] = tally.summary()
    return result


def adapters(args):
    """Through the gateway (keys `same cN`, `alternating cN`) and, with --socket, directly
    (`direct same cN`, `direct alternating cN`): what switching adapters costs llama-server
    itself, against what it costs through the gateway."""
    targets = [Target("gateway", args)] + ([Target("direct", args)] if args.socket else [])
    gateway_ready(args, Tally())
    for target in targets:
        run_block(target, ["claims", "legal"] * (args.warmup // 2), 1)
    result = {}
    for concurrency in args.concurrency:
        tallies = {(target.name, kind): Tally() for target in targets for kind in ("same", "alternating")}
        per_round = args.requests // args.rounds
        for round_number in range(args.rounds):
            half = per_round // 2
            # The same requests both ways: half claims, half legal; grouped (one switch) or interleaved.
            grouped = ["claims"] * half + ["legal"] * half
            alternating = ["claims", "legal"] * half
            order = [(target, kind, sequence) for target in targets
                     for kind, sequence in (("same", grouped), ("alternating", alternating))]
            if round_number % 2:
                order.reverse()
            for target, kind, sequence in order:
                if target.name == "gateway":
                    gateway_ready(args, tallies[(target.name, kind)])
                tallies[(target.name, kind)].add(run_block(target, sequence, concurrency))
        for (name, kind), tally in tallies.items():
            key = f"{kind} c{concurrency}" if name == "gateway" else f"direct {kind} c{concurrency}"
            result[key] = tally.summary()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["compare", "adapters"])
    parser.add_argument("--port", type=int, required=True, help="the gateway's port on 127.0.0.1")
    parser.add_argument("--key", required=True, help="an API key allowed claims and legal")
    parser.add_argument("--socket", help="llama-server's Unix socket (compare)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--requests", type=int, default=300, help="per configuration")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds the requests are split into")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gateway-pid", type=int, help="the gateway's pid: its CPU time and context switches per request are reported")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--adapter", default="claims", help="the adapter compare uses")
    parser.add_argument("--engine", choices=["llama-server", "vllm"], default="llama-server",
                        help="the engine behind --socket: how direct request bodies name the adapter")
    args = parser.parse_args()
    if args.mode == "compare" and not args.socket:
        parser.error("compare needs --socket")
    result = compare(args) if args.mode == "compare" else adapters(args)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
