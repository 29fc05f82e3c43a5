#!/usr/bin/env python3
"""Licensing over HTTPS, side by side with its bounds, in one run.

Starts `openrms demo` (twice: the second start is timed to the first answer
on /metrics and its idle RSS read), then drives each endpoint with wrk over
HTTPS keep-alive and compares it, in the same run, with
  - the RSA-2048 private operations per second of `openssl speed -multi N`
    (the bound for endpoints that need one RSA operation per request), and
  - nginx serving that endpoint's own answer bytes over TLS to the same wrk
    (the bound for answers that need no cryptography beyond TLS).
Each endpoint runs at its peak (closed loop, C connections), then at 80% of
that peak (each connection paced by wrk's delay()), where p50/p99 are read.

Usage: python3 bench/peers.py OPENRMS_BINARY [--seconds S] [--connections C]
                              [--first-time N] [--only NAME,...] [--json FILE]
                              [--profile FILE] [--starts N]
--profile runs the timed demo under gperftools' CPU profiler (preloaded,
see ../shared/docs/profiling.md), sampling only during each endpoint's peak
run: the samples of the K-th endpoint measured go to FILE.K (K from 0); read
them with `google-pprof --text OPENRMS_BINARY FILE.0`.
bench/run.sh installs the tools, builds and runs this; bench/README.md holds
results. Talks only to 127.0.0.1; starts and stops only its own processes.
"""

import argparse
import base64
import concurrent.futures
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rsa_bound(threads):
    """(private, public) RSA-2048 operations per second on all cores."""
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "-multi", str(threads), "rsa2048"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("rsa 2048"):
            fields = line.split()
            return float(fields[5]), float(fields[6])  # sign/s, verify/s
    raise SystemExit("openssl speed printed no rsa 2048 line:\n" + out)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid, children=False):
    """utime + stime of a process (and of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3): utime is field 14, stime 15,
    # cutime 16, cstime 17.
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


class Demo:
    """`openrms demo` in a directory of its own."""

    def __init__(self, binary, directory):
        self.binary, self.dir, self.proc = binary, directory, None
        self.port = free_port()

    def start(self, env=None):
        self.out = open(os.path.join(self.dir, "demo.out"), "w+")
        self.err = open(os.path.join(self.dir, "demo.err"), "w")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [self.binary, "demo", "--dir", os.path.join(self.dir, "demo"), "--port", str(self.port)],
            stdout=self.out, stderr=self.err, env=env)
        info = {}
        # A first start makes keys: on a loaded machine it takes seconds.
        for _ in range(6000):
            self.out.seek(0)
            for line in self.out.read().splitlines():
                key, _, value = line.partition(": ")
                info[key] = value
            if "tls-ca" in info:
                break
            if self.proc.poll() is not None:
                raise SystemExit("openrms demo stopped: " + open(self.err.name).read()[-2000:])
            time.sleep(0.01)
        else:
            raise SystemExit("openrms demo did not start in 60 s")
        self.info = info
        ca = info["tls-ca"]
        self.ca = ca if os.path.isabs(ca) else os.path.join(os.getcwd(), ca)
        self.tls = ssl.create_default_context(cafile=self.ca)
        rms = urllib.parse.urlsplit(info["rms-url"])
        self.origin = f"{rms.scheme}://{rms.netloc}"
        self.base = info["rms-url"].rstrip("/")
        # The first answer on /metrics, counted from the spawn.
        while True:
            try:
                urllib.request.urlopen(self.origin + "/metrics", context=self.tls, timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.005)
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def call(self, method, url, body=None, headers=None):
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(req, context=self.tls, timeout=30) as r:
            return r.read()


def lua_script(method, bodies, headers, delay_ms=0.0, threads=1):
    """A wrk script: `bodies` in turn (one body: always that one), paced by
    `delay_ms` per request and connection, printing one RESULT line."""
    lines = [f'wrk.method = "{method}"', f"threads_total = {threads}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    if len(bodies) == 1:
        lines.append(f"wrk.body = {json.dumps(bodies[0])}")
    elif bodies:
        # Thread k sends bodies k, k+T, k+2T, ...: no body twice until all
        # have been sent once.
        lines.append("local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}")
        lines.append("local n, threads, made = #bodies, 0, 0")
        lines.append("function setup(thread) thread:set('id', made); made = made + 1 end")
        lines.append("local i")
        lines.append("function request() i = (i or id) ; local b = bodies[i % n + 1]\n"
                     "  i = i + threads_total; return wrk.format(nil, nil, nil, b) end")
    if delay_ms > 0:
        # wrk takes whole milliseconds: a fractional delay is its floor or
        # ceiling at random, so that the mean is the delay asked for (fast
        # endpoints want well under 1 ms per request and connection).
        lines.append(f"local delay_ms = {delay_ms:.4f}")
        lines.append("function delay() local f = math.floor(delay_ms)\n"
                     "  if math.random() < delay_ms - f then return f + 1 end return f end")
    lines.append('''done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors, summary.requests))
end''')
    return "\n".join(lines) + "\n"


def cpu_jiffies():
    """The machine's CPU time so far, by kind (user, nice, system, idle, iowait, ...)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def wrk(url, script_text, work, threads, connections, seconds):
    path = os.path.join(work, "run.lua")
    with open(path, "w") as f:
        f.write(script_text)
    children, machine = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_jiffies()
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", path,
                          url], capture_output=True, text=True).stdout
    after, machine_after = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_jiffies()
    # wrk is the only child waited for meanwhile: its own CPU time. The
    # machine's idle share says whether the cores were busy throughout.
    wrk_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    total = sum(machine_after) - sum(machine)
    idle = (machine_after[3] + machine_after[4] - machine[3] - machine[4]) / max(1, total)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            rps, p50, p99, errors, total = line.split()[1:]
            return {"rps": float(rps), "p50_ms": float(p50), "p99_ms": float(p99),
                    "errors": int(errors), "requests": int(total),
                    "wrk_cpu_us_per_request": 1e6 * wrk_cpu / max(1, int(total)),
                    "machine_idle_share": idle}
    raise SystemExit(f"wrk printed no result for {url}:\n{out}")


class Nginx:
    """nginx serving files over HTTPS on loopback (any method answers the file)."""

    def __init__(self, work, threads):
        self.dir = os.path.join(work, "nginx")
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.port = free_port()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        f"{self.dir}/key.pem", "-out", f"{self.dir}/cert.pem", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        tmp = f"{self.dir}/tmp"
        with open(f"{self.dir}/nginx.conf", "w") as f:
            f.write(f"""worker_processes {threads}; pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log; daemon off;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp};
  fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  client_max_body_size 1m; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{self.port} ssl; ssl_certificate {self.dir}/cert.pem;
    ssl_certificate_key {self.dir}/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ root {self.root}; default_type application/json; error_page 405 =200 $uri; }} }} }}
""")
        self.proc = None

    def add(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return f"https://127.0.0.1:{self.port}/{name}"

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-c", f"{self.dir}/nginx.conf", "-p", self.dir],
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=10, help="per run (default 10)")
    ap.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    # More than the node keeps opened (4096): sent in turn, each one is gone
    # from its cache before it comes again.
    ap.add_argument("--first-time", type=int, default=6000,
                    help="publishing licenses made for the first-time run (default 6000)")
    ap.add_argument("--only", default="", help="comma-separated endpoint names")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--profile", help="CPU-profile the timed demo into this file")
    ap.add_argument("--starts", type=int, default=6,
                    help="extra timed starts of the demo before the one measured (default 6)")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `bash scripts/install-deps.sh --bench`")
    threads = os.cpu_count() or 1
    conns = args.connections
    work = tempfile.mkdtemp(prefix="openrms-bench.")
    demo = nginx = None
    try:
        # First start makes the enrollment service and the clusters; the
        # second is the one an operator sees every day.
        Demo(os.path.abspath(args.binary), work).start().stop()
        # The start to the first answer, again and again: one start is a
        # few hundred milliseconds, at the mercy of any burst of load.
        starts = []
        for _ in range(args.starts):
            again = Demo(os.path.abspath(args.binary), work).start()
            starts.append(again.start_seconds * 1000)
            again.stop()
        starts.sort()
        env = None
        if args.profile:
            if not os.path.exists("/usr/lib/x86_64-linux-gnu/libprofiler.so.0"):
                raise SystemExit("--profile needs gperftools: run "
                                 "`bash scripts/install-deps.sh --bench`")
            env = dict(os.environ, LD_PRELOAD="/usr/lib/x86_64-linux-gnu/libprofiler.so.0",
                       CPUPROFILE=os.path.abspath(args.profile), CPUPROFILE_FREQUENCY="1000",
                       CPUPROFILESIGNAL=str(int(signal.SIGUSR2)))
        demo = Demo(os.path.abspath(args.binary), work).start(env)
        time.sleep(1)
        idle_rss_mb = rss_kb(demo.proc.pid) / 1024
        starts.append(demo.start_seconds * 1000)
        starts.sort()
        start_ms = starts[len(starts) // 2]

        user, password = demo.info["user"].split()[0], demo.info["user"].split()[1]
        form = urllib.parse.urlencode({"grant_type": "password", "username": user,
                                       "password": password}).encode()
        token = json.loads(demo.call("POST", demo.origin + "/oauth2/token", form))["access_token"]
        auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                "x-ms-rms-request-id": "1", "x-ms-rms-platform-id": "bench"}

        def publish_body(n):
            return json.dumps({"PreferDeprecatedAlgorithms": False, "AllowAuditedExtraction": False,
                               "Policy": {"Descriptors": [{"Name": f"Bench {n}", "Description": "bench",
                                                           "Language": "en-us"}],
                                          "UserRights": [{"Users": [user], "Rights": ["VIEW", "EDIT"]}],
                                          "allowOfflineAccess": True, "IntervalTimeInDays": 30,
                                          "LicenseValidUntil": "2099-01-01T00:00:00"}})

        def eul_body(pl_answer):
            return json.dumps({"SerializedPublishingLicense":
                               json.loads(pl_answer)["SerializedPublishingLicense"]})

        pub = publish_body(0)
        pl = demo.call("POST", demo.base + "/my/v2/publishinglicenses", pub.encode(), auth)
        eul = eul_body(pl)
        # Made over several connections at once: one at a time, thousands
        # of them took most of a run.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            first = list(pool.map(
                lambda n: eul_body(demo.call("POST", demo.base + "/my/v2/publishinglicenses",
                                             publish_body(n).encode(), auth)),
                range(1, args.first_time + 1)))
        key = subprocess.run("openssl genrsa 2048 2>/dev/null | openssl rsa -RSAPublicKey_out "
                             "-outform DER 2>/dev/null", shell=True, capture_output=True).stdout
        cert = json.dumps({"PublicKey": base64.b64encode(key).decode(), "Temporary": False})

        # name, method, url, bodies, headers, bound ("rsa" or "nginx"). An
        # RSA endpoint also names the public-key operations that its request
        # needs beside the private one: the first time, the publishing
        # license's signature is checked; publishing seals the content key
        # to the cluster's key (OAEP).
        endpoints = [
            ("enduserlicenses (seen before)", "POST", demo.base + "/my/v2/enduserlicenses",
             [eul], auth, "nginx"),
            ("enduserlicenses (first time)", "POST", demo.base + "/my/v2/enduserlicenses",
             first, auth, "rsa"),
            ("publishinglicenses", "POST", demo.base + "/my/v2/publishinglicenses", [pub], auth,
             "rsa"),
            ("certification", "POST", demo.base + "/certification", [cert], auth, "rsa"),
            ("templates", "GET", demo.base + "/my/v2/templates", [], auth, "nginx"),
            ("oauth2/token", "POST", demo.origin + "/oauth2/token", [form.decode()],
             {"Content-Type": "application/x-www-form-urlencoded"}, "nginx"),
        ]
        public_ops = {"enduserlicenses (first time)": 1, "publishinglicenses": 1}
        if args.only:
            wanted = set(args.only.split(","))
            endpoints = [e for e in endpoints if e[0].split(" ")[0] in wanted or e[0] in wanted]

        nginx = Nginx(work, threads)
        peer_urls = {}
        for i, (name, method, url, bodies, headers, _) in enumerate(endpoints):
            answer = demo.call(method, url, bodies[0].encode() if bodies else None, headers)
            peer_urls[name] = (nginx.add(f"answer{i}.json", answer), len(answer))
        nginx.start()

        rsa_before, verify_before = rsa_bound(threads)
        results = []
        for name, method, url, bodies, headers, bound in endpoints:
            if args.profile:  # the profiler samples the peak run only
                demo.proc.send_signal(signal.SIGUSR2)
            cpu_before = cpu_seconds(demo.proc.pid)
            peak = wrk(url, lua_script(method, bodies, headers, 0.0, threads), work, threads, conns, args.seconds)
            peak["cpu_us_per_request"] = (1e6 * (cpu_seconds(demo.proc.pid) - cpu_before) /
                                          max(1, peak["requests"]))
            if args.profile:
                demo.proc.send_signal(signal.SIGUSR2)
            # Closed loop: each connection sends, waits for the answer, then
            # waits delay(). Latency falls with the load, so the delay for
            # 80% of the peak is found in two short calibration runs.
            target = 0.8 * peak["rps"]
            delay = conns * 1000.0 / target
            for _ in range(2):
                probe = wrk(url, lua_script(method, bodies, headers, delay, threads), work, threads,
                            conns, max(3, int(4 * delay / 1000) + 1))
                if probe["rps"] <= 0:
                    break
                latency = max(0.0, conns * 1000.0 / probe["rps"] - delay)
                delay = max(0.0, conns * 1000.0 / target - latency)
            # Slow endpoints get long enough for every connection to send a few.
            at80_seconds = max(args.seconds, int(4 * (delay + peak["p50_ms"]) / 1000) + 1)
            at80 = wrk(url, lua_script(method, bodies, headers, delay, threads), work, threads, conns,
                       at80_seconds)
            at80["share_of_peak"] = at80["rps"] / peak["rps"]
            peer_url, size = peer_urls[name]
            nginx_pids = [nginx.proc.pid] + children_of(nginx.proc.pid)  # master, workers
            cpu_before = sum(cpu_seconds(p) for p in nginx_pids)
            peer = wrk(peer_url, lua_script(method, bodies, {}, 0.0, threads), work, threads, conns, args.seconds)
            peer["cpu_us_per_request"] = (1e6 * (sum(cpu_seconds(p) for p in nginx_pids) -
                                                  cpu_before) /
                                          max(1, peer["requests"]))
            results.append({"endpoint": name, "answer_bytes": size, "peak": peak, "at_80": at80,
                            "nginx": peer, "bound": bound})
        rsa_after, verify_after = rsa_bound(threads)
        rsa = (rsa_before + rsa_after) / 2
        verify = (verify_before + verify_after) / 2
        for r in results:
            machine_us = (1e6 * threads / rsa + r["nginx"]["cpu_us_per_request"] +
                          r["peak"]["wrk_cpu_us_per_request"])
            r["ceiling"] = 1e6 * threads / machine_us / rsa
            r["public_ops"] = public_ops.get(r["endpoint"], 0)
            machine_us += r["public_ops"] * 1e6 * threads / verify
            r["ceiling_with_public_ops"] = 1e6 * threads / machine_us / rsa

        print(f"machine: {threads} cores; wrk -t{threads} -c{conns} -d{args.seconds}s, "
              f"HTTPS keep-alive, loopback")
        print(f"rsa-2048 private ops/s (openssl speed -multi {threads}): before {rsa_before:.0f}, "
              f"after {rsa_after:.0f}; public ops/s: before {verify_before:.0f}, "
              f"after {verify_after:.0f}")
        print(f"openrms demo, later starts: first /metrics answer after {start_ms:.0f} ms "
              f"(median of {len(starts)}; {starts[0]:.0f}-{starts[-1]:.0f}); "
              f"idle RSS {idle_rss_mb:.1f} MB")
        print()
        print(f"{'endpoint':32} {'bytes':>6} {'req/s':>8} {'/rsa':>6} {'nginx/s':>8} {'/nginx':>7}"
              f"  {'paced: req/s':>12} {'%peak':>5} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
              f" {'cpu us/req':>10} {'nginx':>6} {'wrk':>5} {'idle%':>5} {'ceiling':>7} {'+public':>7}")
        for r in results:
            p, a, n = r["peak"], r["at_80"], r["nginx"]
            ceiling = f"{r['ceiling']:.3f}" if r["bound"] == "rsa" else "-"
            with_public = (f"{r['ceiling_with_public_ops']:.3f}" if r["bound"] == "rsa" else "-")
            print(f"{r['endpoint']:32} {r['answer_bytes']:6d} {p['rps']:8.0f} {p['rps'] / rsa:6.3f} "
                  f"{n['rps']:8.0f} {p['rps'] / n['rps']:7.3f}  {a['rps']:12.0f} {100 * a['share_of_peak']:5.0f} "
                  f"{a['p50_ms']:7.2f} "
                  f"{a['p99_ms']:7.2f} {p['errors'] + a['errors']:6d}"
                  f" {p['cpu_us_per_request']:10.0f} {n['cpu_us_per_request']:6.0f}"
                  f" {p['wrk_cpu_us_per_request']:5.0f} {100 * p['machine_idle_share']:5.1f}"
                  f" {ceiling:>7} {with_public:>7}")
        # The RSA operation's share of a core-second, for the CPU columns.
        print(f"\ncpu us/req: CPU time (user + system) of the openrms process, of nginx and of "
              f"wrk, per request at the peak; idle%: the machine's idle share meanwhile; one "
              f"RSA-2048 private operation is {1e6 * threads / rsa:.0f} us of a core here\n"
              f"ceiling: the /rsa that a server doing one RSA operation and otherwise costing "
              f"what nginx costs for the same request and answer would reach, with this wrk on "
              f"these {threads} cores; +public: the same with the request's RSA public-key "
              f"operations too (first time: the license's signature; publishing: the content "
              f"key's OAEP seal), each {1e6 * threads / verify:.0f} us of a core here")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"threads": threads, "connections": conns, "seconds": args.seconds,
                           "rsa_before": rsa_before, "rsa_after": rsa_after,
                           "rsa_public_before": verify_before, "rsa_public_after": verify_after,
                           "start_ms": start_ms, "starts_ms": starts, "idle_rss_mb": idle_rss_mb,
                           "endpoints": results}, f, indent=2)
    finally:
        if nginx:
            nginx.stop()
        if demo:
            demo.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
