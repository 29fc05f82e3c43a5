#!/usr/bin/env python3
"""Licensing through HAProxy with one, two and three nodes, in one run.

Starts, all on loopback and in one temporary directory: its own PostgreSQL
(unix socket only; run as the `postgres` user when root), an enrollment
service, a root cluster provisioned into PostgreSQL with --store, a user,
three `openrms serve` nodes run from deploy/openrms.toml (flags override its
paths), and for N = 1, 2, 3 a fresh HAProxy from deploy/haproxy.cfg whose
backend lists N nodes. For each N, and direct to one node without a
balancer, wrk (HTTPS keep-alive, -t2 -c16) drives
  - enduserlicenses for one publishing license (seen before),
  - enduserlicenses for --first-time distinct publishing licenses (each
    sent once: the nodes are restarted, so their caches are empty, before
    each such run),
  - publishinglicenses,
and reads, per run, PostgreSQL's commits and inserted rows
(pg_stat_database) and the CPU time of HAProxy, the nodes and PostgreSQL
(/proc/PID/stat). `openssl speed -multi 2 rsa2048` before and after is the
RSA bound. Then PostgreSQL's own capacity on the same server: pgbench with
one INSERT per transaction, and with 100 per transaction.

Usage: python3 bench/nodes.py OPENRMS_BINARY [--seconds S] [--json FILE]
                              [--node-threads 1,0] [--first-time N]
--node-threads: the `serve --threads` values to run the whole matrix with
(0: one per core); default both 1 and 0.
Talks only to 127.0.0.1 and a unix socket; starts and stops only its own
processes; removes its temporary directory.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # importing peers leaves no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(REPO, "deploy")
PG_BIN = "/usr/lib/postgresql/15/bin"
# CPU time from /proc, as peers.py reads it.
cpu_seconds = peers.cpu_seconds
children_of = peers.children_of


class Postgres:
    """A PostgreSQL server of its own in DIR, reachable only by its socket."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.port = 20000 + os.getpid() % 20000
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                            "--init-groups", "--"]
        os.chmod(self.dir, 0o755)
        os.chmod(work, 0o755)
        self.started = False

    def server(self, *args):
        subprocess.run(self.as_user + [f"{PG_BIN}/{args[0]}", *args[1:]], cwd=self.dir, check=True,
                       stdout=subprocess.DEVNULL)

    def start(self):
        self.server("initdb", "-D", f"{self.dir}/data", "-U", "openrms", "--auth=trust", "-E",
                    "UTF8", "--locale=C", "--no-instructions")
        # Durable: fsync and synchronous_commit stay on (PostgreSQL's
        # defaults), unlike the tests' server, so commits cost what they
        # cost an operator.
        with open(f"{self.dir}/data/postgresql.conf", "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\n"
                    f"port = {self.port}\nmax_connections = 200\n")
        self.server("pg_ctl", "start", "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log",
                    "-w", "-t", "60", "-s")
        self.started = True
        with open(f"{self.dir}/data/postmaster.pid") as f:
            self.pid = int(f.readline())
        subprocess.run([f"{PG_BIN}/createdb", "-h", self.dir, "-p", str(self.port), "-U",
                        "openrms", "rms"], check=True)
        return self

    def url(self, db="rms"):
        return f"postgresql://openrms@/{db}?host={self.dir}&port={self.port}"

    def sql(self, query, db="rms"):
        return subprocess.run([f"{PG_BIN}/psql", "-h", self.dir, "-p", str(self.port), "-U",
                               "openrms", "-d", db, "-Atc", query], capture_output=True,
                              text=True, check=True).stdout.strip()

    def counters(self):
        """Counters since the server started: of database rms (transactions,
        read-only ones included; rows inserted, updated, deleted) and of the
        whole server's WAL (bytes, and fsyncs of it)."""
        return [int(v) for v in self.sql(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, wal_sync "
            "FROM pg_stat_database, pg_stat_wal WHERE datname = 'rms'").split("|")]

    def cpu(self):
        # The postmaster's reaped children, and the live backends.
        return cpu_seconds(self.pid, children=True) + sum(cpu_seconds(p)
                                                          for p in children_of(self.pid))

    def stop(self):
        if self.started:
            subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "stop", "-D", f"{self.dir}/data",
                                           "-m", "fast", "-w", "-s"], cwd=self.dir)


def wait_line(proc, path, prefix, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise SystemExit(f"no '{prefix}' from {' '.join(proc.args[:3])}: see {path}:\n" +
                     open(path).read()[-2000:])


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Setup:
    def __init__(self, binary, work, pg):
        self.bin, self.work, self.pg = binary, work, pg
        self.procs = []
        self.nodes = [None, None, None]
        self.ports = [peers.free_port() for _ in range(3)]
        self.pw = f"{work}/key-password"
        with open(self.pw, "w") as f:
            f.write("nodes bench password\n")
        self.metrics = f"{work}/metrics-token"
        with open(self.metrics, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        self.srv = f"{work}/server"
        self.enr = f"{work}/enrollment"
        self.balancer_port = peers.free_port()
        self.root = f"https://127.0.0.1:{self.balancer_port}/root/_wmcs"
        self.haproxy = None

    def spawn(self, args, name, env=None):
        log = f"{self.work}/{name}.log"
        proc = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))
        self.procs.append(proc)
        return proc, log

    def run(self, *args, env=None):
        r = subprocess.run([self.bin, *args], capture_output=True, text=True,
                           env=dict(os.environ, **(env or {})))
        if r.returncode != 0:
            raise SystemExit(f"openrms {' '.join(args[:2])} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def provision(self):
        self.run("enrollment", "init", "--dir", self.enr, "--password-file", self.pw)
        proc, log = self.spawn([self.bin, "enrollment", "serve", "--dir", self.enr, "--listen",
                                "127.0.0.1:0", "--password-file", self.pw], "enrollment")
        enroll_url = wait_line(proc, log, "enrollment-site: ")
        token = self.run("enrollment", "token", "--dir", self.enr, "--password-file",
                         self.pw).split()[-1]
        self.run("cluster", "provision", "--dir", self.srv, "--store", self.pg.url(), "--name",
                 "ROOT", "--url", self.root, "--trust", f"{self.enr}/trust-anchor.xml",
                 "--tls-ca", f"{self.enr}/tls-ca.pem", "--enroll", enroll_url, "--token", token,
                 "--password-file", self.pw)
        self.run("user", "add", "alice", "--dir", self.srv,
                 env={"OPENRMS_USER_PASSWORD": "alice-pw"})
        self.ca = f"{self.srv}/tls-ca.pem"
        self.tls = ssl.create_default_context(cafile=self.ca)

    def start_node(self, i, threads):
        stop(self.nodes[i])
        proc, log = self.spawn(
            [self.bin, "serve", "--config", f"{DEPLOY}/openrms.toml", "--dir", self.srv,
             "--store", self.pg.url(), "--listen", f"127.0.0.1:{self.ports[i]}",
             "--password-file", self.pw, "--metrics-token-file", self.metrics,
             "--monitor-interval", "0", "--threads", str(threads)], f"node{i + 1}")
        self.nodes[i] = proc
        wait_line(proc, log, "server: ")

    def start_nodes(self, threads):
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda i: self.start_node(i, threads), range(3)))

    def start_haproxy(self, n):
        self.stop_haproxy()
        cfg = open(f"{DEPLOY}/haproxy.cfg").read()
        sock = f"{self.work}/haproxy.sock"

        def replace(text, old, new):
            if old not in text:
                raise SystemExit(f"deploy/haproxy.cfg lacks: {old!r}")
            return text.replace(old, new, 1)

        cfg = replace(cfg, "    maxconn 4096\n",
                      f"    maxconn 4096\n    stats socket {sock} level admin\n")
        cfg = replace(cfg, "bind 127.0.0.1:8443", f"bind 127.0.0.1:{self.balancer_port}")
        cfg = replace(cfg, "ca-file /var/lib/openrms/tls-ca.pem", f"ca-file {self.ca}")
        servers = "".join(f"    server node{i + 1} 127.0.0.1:{self.ports[i]}\n" for i in range(n))
        cfg = replace(cfg, "    server node1 127.0.0.1:8444\n    server node2 127.0.0.1:8445\n",
                      servers)
        path = f"{self.work}/haproxy.cfg"
        with open(path, "w") as f:
            f.write(cfg)
        subprocess.run(["/usr/sbin/haproxy", "-c", "-q", "-f", path], check=True)
        self.haproxy, _ = self.spawn(["/usr/sbin/haproxy", "-db", "-f", path], "haproxy")
        self.wait_up(n)

    def stop_haproxy(self):
        stop(self.haproxy)
        self.haproxy = None

    def up(self):
        """How many servers HAProxy's health check has UP."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(f"{self.work}/haproxy.sock")
                s.sendall(b"show stat\n")
                text = b""
                while chunk := s.recv(65536):
                    text += chunk
        except OSError:
            return 0
        lines = text.decode().splitlines()
        cols = lines[0].lstrip("# ").split(",")
        up = 0
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == "openrms_nodes" and row.get("svname", "").startswith("node"):
                up += row.get("status") == "UP"
        return up

    def wait_up(self, n):
        for _ in range(300):
            if self.up() == n:
                return
            time.sleep(0.1)
        raise SystemExit(f"HAProxy did not see {n} nodes UP")

    def stop_all(self):
        for proc in reversed(self.procs):
            stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=int, default=10, help="per run (default 10)")
    ap.add_argument("--first-time", type=int, default=20000,
                    help="distinct publishing licenses (default 20000: more than a 10 s run "
                         "sends here; a row that sent more is marked *)")
    ap.add_argument("--node-threads", default="1,0",
                    help="serve --threads values to run the matrix with (default 1,0)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    for tool in ("wrk", "openssl", "/usr/sbin/haproxy", f"{PG_BIN}/pgbench"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `bash scripts/install-deps.sh --bench`")
    binary = os.path.abspath(args.binary)
    cores = os.cpu_count() or 1
    load_start = os.getloadavg()
    work = tempfile.mkdtemp(prefix="openrms-nodes.")
    pg = setup = None
    try:
        pg = Postgres(work).start()
        setup = Setup(binary, work, pg)
        setup.provision()
        thread_values = [int(t) for t in args.node_threads.split(",")]
        setup.start_nodes(thread_values[0])
        setup.start_haproxy(3)

        origin = f"https://127.0.0.1:{setup.balancer_port}"

        def conn(port):
            return http.client.HTTPSConnection("127.0.0.1", port, context=setup.tls, timeout=30)

        def call(c, method, path, body, headers):
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                raise SystemExit(f"{method} {path}: HTTP {r.status} {data[:500]!r}")
            return data

        form = urllib.parse.urlencode({"grant_type": "password", "username": "alice",
                                       "password": "alice-pw"})
        token = json.loads(call(conn(setup.balancer_port), "POST", "/oauth2/token", form,
                                {"Content-Type": "application/x-www-form-urlencoded"}))[
                                    "access_token"]
        auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                "x-ms-rms-request-id": "1", "x-ms-rms-platform-id": "bench"}
        base = "/root/_wmcs/my/v2"

        def publish_body(n):
            return json.dumps({"PreferDeprecatedAlgorithms": False, "AllowAuditedExtraction": False,
                               "Policy": {"Descriptors": [{"Name": f"Bench {n}",
                                                           "Description": "bench",
                                                           "Language": "en-us"}],
                                          "UserRights": [{"Users": ["alice"],
                                                          "Rights": ["VIEW", "EDIT"]}],
                                          "allowOfflineAccess": True, "IntervalTimeInDays": 30,
                                          "LicenseValidUntil": "2099-01-01T00:00:00"}})

        def eul_body(pl_answer):
            return json.dumps({"SerializedPublishingLicense":
                               json.loads(pl_answer)["SerializedPublishingLicense"]})

        pub = publish_body(0)
        eul = eul_body(call(conn(setup.balancer_port), "POST", base + "/publishinglicenses", pub,
                            auth))
        # The distinct licenses, published through the three nodes at once
        # (one keep-alive connection per worker).
        made = time.monotonic()

        def publish_share(k):
            c = conn(setup.ports[k % 3])
            return [eul_body(call(c, "POST", base + "/publishinglicenses", publish_body(n), auth))
                    for n in range(1 + k, args.first_time + 1, 4)]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            first = [b for share in pool.map(publish_share, range(4)) for b in share]
        print(f"{len(first)} publishing licenses made in {time.monotonic() - made:.0f} s",
              file=sys.stderr)

        endpoints = [("enduserlicenses (seen before)", "/enduserlicenses", [eul], False),
                     ("enduserlicenses (first time)", "/enduserlicenses", first, True),
                     ("publishinglicenses", "/publishinglicenses", [pub], False)]

        # PostgreSQL's capacity, nodes idle: one INSERT per transaction, and
        # 100 per transaction (like the nodes' batched audit rows).
        setup.stop_haproxy()
        pg.sql("CREATE DATABASE capacity")
        pg.sql("CREATE TABLE t (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), "
               "who text, what text, detail text)", db="capacity")
        row = ("INSERT INTO t (who, what, detail) VALUES ('alice@example.org', 'license', "
               "repeat('x', 200))")
        capacity = {}
        for name, per in (("insert_1", 1), ("insert_100", 100)):
            script = f"{work}/{name}.sql"
            with open(script, "w") as f:
                f.write("BEGIN;\n" + (row + ";\n") * per + "COMMIT;\n" if per > 1 else row + ";\n")
            out = subprocess.run([f"{PG_BIN}/pgbench", "-h", pg.dir, "-p", str(pg.port), "-U",
                                  "openrms", "-n", "-c", "8", "-j", "2", "-T", "5", "-f", script,
                                  "capacity"], capture_output=True, text=True).stdout
            tps = next(float(l.split("=")[1].split()[0]) for l in out.splitlines()
                       if l.startswith("tps"))
            capacity[name] = {"commits_per_s": tps, "rows_per_s": tps * per}

        # What the idle cluster writes: the nodes' periodic reads of the
        # active SLC, and HAProxy's health checks (/readyz reads the store),
        # per second, without a balancer and with three nodes behind one.
        # Subtracted from each run's counters over the run's window.
        idle = {}
        for n in (0, 3):
            if n:
                setup.start_haproxy(n)
            time.sleep(11)
            before, t0 = pg.counters(), time.monotonic()
            time.sleep(20)
            after, t1 = pg.counters(), time.monotonic()
            idle[n] = [(b - a - (1 if k == 0 else 0)) / (t1 - t0)
                       for k, (a, b) in enumerate(zip(before, after))]
            setup.stop_haproxy()

        def idle_rate(n):
            return [i0 + (i3 - i0) * n / 3 for i0, i3 in zip(idle[0], idle[3])]

        rsa_before = peers.rsa_bound(cores)[0]
        results = []
        for node_threads in thread_values:
            setup.stop_haproxy()
            setup.start_nodes(node_threads)
            for n in (0, 1, 2, 3):  # 0: direct to node 1
                if n:
                    setup.start_haproxy(n)
                for name, path, bodies, fresh in endpoints:
                    if fresh:  # the nodes' caches empty: every license is new to them
                        setup.stop_haproxy()
                        setup.start_nodes(node_threads)
                        if n:
                            setup.start_haproxy(n)
                    if n == 0:
                        url = f"https://127.0.0.1:{setup.ports[0]}/root/_wmcs/my/v2{path}"
                    else:
                        url = setup.root + "/my/v2" + path
                    pg_before, w0 = pg.counters(), time.monotonic()
                    h0 = cpu_seconds(setup.haproxy.pid) if setup.haproxy else 0.0
                    nodes0 = [cpu_seconds(p.pid) for p in setup.nodes]
                    pg0 = pg.cpu()
                    t0 = time.monotonic()
                    r = peers.wrk(url, peers.lua_script("POST", bodies, auth, 0.0, cores), work,
                                  cores, 16, args.seconds)
                    wall = time.monotonic() - t0
                    h1 = cpu_seconds(setup.haproxy.pid) if setup.haproxy else 0.0
                    nodes1 = [cpu_seconds(p.pid) for p in setup.nodes]
                    pg1 = pg.cpu()
                    # The last audit batch, and the backends' statistics: a
                    # backend reports them when it goes idle, at most once a
                    # second, else 10 s later (PostgreSQL 15's
                    # PGSTAT_IDLE_INTERVAL); 11 s after the load they are in.
                    time.sleep(11)
                    pg_after, w1 = pg.counters(), time.monotonic()
                    d = [b - a - rate * (w1 - w0)
                         for a, b, rate in zip(pg_before, pg_after, idle_rate(n))]
                    d[0] -= 1  # the first counters query is one transaction
                    req = max(1, r["requests"])
                    r.update({
                        "endpoint": name, "nodes": n, "node_threads": node_threads,
                        "pg_commits_per_1000": 1000.0 * d[0] / req,
                        "pg_rows_per_1000": 1000.0 * d[1] / req,
                        "pg_updated_per_1000": 1000.0 * d[2] / req,
                        "pg_deleted_per_1000": 1000.0 * d[3] / req,
                        "pg_wal_bytes_per_req": d[4] / req,
                        "pg_wal_syncs_per_1000": 1000.0 * d[5] / req,
                        "haproxy_cpu_share": (h1 - h0) / wall,
                        "haproxy_cpu_us_per_req": 1e6 * (h1 - h0) / req,
                        "nodes_cpu_us_per_req": 1e6 * sum(b - a for a, b in zip(nodes0, nodes1)) / req,
                        "pg_cpu_us_per_req": 1e6 * (pg1 - pg0) / req,
                        "load": os.getloadavg()[0],
                    })
                    results.append(r)
                    print(f"  {node_threads} {n} {name}: {r['rps']:.0f} req/s", file=sys.stderr)
                setup.stop_haproxy()
        rsa_after = peers.rsa_bound(cores)[0]
        rsa = (rsa_before + rsa_after) / 2
        load_end = os.getloadavg()

        print(f"machine: {cores} cores; wrk -t{cores} -c16 -d{args.seconds}s, HTTPS keep-alive, "
              f"loopback; HAProxy (mode tcp) from deploy/haproxy.cfg; PostgreSQL 15, durable")
        print(f"load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
              f"at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
        print(f"rsa-2048 private ops/s (openssl speed -multi {cores}): before {rsa_before:.0f}, "
              f"after {rsa_after:.0f}")
        for k, v in capacity.items():
            print(f"postgresql capacity ({k}, pgbench -c8 -j2 -T5): {v['commits_per_s']:.0f} "
                  f"commits/s, {v['rows_per_s']:.0f} rows/s")
        for n in (0, 3):
            print(f"idle cluster, {'no balancer' if n == 0 else 'HAProxy with 3 nodes'}: "
                  f"{idle[n][0]:.1f} transactions/s, {idle[n][1]:.1f} rows inserted/s, "
                  f"{idle[n][4]:.0f} WAL bytes/s (subtracted from the runs below)")
        for node_threads in thread_values:
            print()
            print(f"serve --threads {node_threads}{' (one per core)' if node_threads == 0 else ''}")
            print(f"{'endpoint':30} {'via':6} {'req/s':>6} {'p50ms':>6} {'p99ms':>6} "
                  f"{'err':>4} {'/rsa':>5} {'commit/1k':>9} {'ins/1k':>6} {'upd/1k':>6} "
                  f"{'walB/r':>6} {'sync/1k':>7} {'hapcpu':>6} {'hap/r':>5} {'node/r':>6} "
                  f"{'pg/r':>5} {'load':>4}")
            for r in results:
                if r["node_threads"] != node_threads:
                    continue
                via = "direct" if r["nodes"] == 0 else f"N={r['nodes']}"
                mark = "*" if r["requests"] > len(first) and "first" in r["endpoint"] else " "
                print(f"{r['endpoint']:29}{mark} {via:6} {r['rps']:6.0f} {r['p50_ms']:6.2f} "
                      f"{r['p99_ms']:6.2f} {r['errors']:4d} {r['rps'] / rsa:5.2f} "
                      f"{r['pg_commits_per_1000']:9.1f} {r['pg_rows_per_1000']:6.1f} "
                      f"{r['pg_updated_per_1000']:6.1f} {r['pg_wal_bytes_per_req']:6.0f} "
                      f"{r['pg_wal_syncs_per_1000']:7.1f} "
                      f"{100 * r['haproxy_cpu_share']:5.1f}% {r['haproxy_cpu_us_per_req']:5.0f} "
                      f"{r['nodes_cpu_us_per_req']:6.0f} {r['pg_cpu_us_per_req']:5.0f} "
                      f"{r['load']:4.1f}")
        print()
        print("commit/1k: PostgreSQL transactions per 1000 requests (read-only ones too, and the "
              "health checks');\nins/upd: rows inserted/updated per 1000; walB/r: WAL bytes per "
              "request; sync/1k: WAL fsyncs\nper 1000; hapcpu: HAProxy's CPU (share of one core); "
              "hap/r, node/r, pg/r: CPU microseconds\nper request of HAProxy, of the three nodes, "
              "of PostgreSQL; load: 1-min load average after the run;\n"
              "*: the run sent more requests than there are distinct licenses (some came again)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"cores": cores, "seconds": args.seconds, "rsa_before": rsa_before,
                           "rsa_after": rsa_after, "load_start": load_start,
                           "load_end": load_end, "pg_capacity": capacity, "pg_idle_per_s": idle,
                           "runs": results},
                          f, indent=2)
    finally:
        if setup:
            setup.stop_all()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
