"""Nexus beside its peers, each figure measured in one run (see scripts/bench.sh).

`bench.py core IMAGE` — Nexus beside plain Docker on one image:
  create   `nexus workspace create` until SSH answers  vs  `docker run -d` + first `docker exec C true`
  exec     `nexus workspace exec W -- true`            vs  `docker exec C true`        (median of 20)
  memory   RSS of nexusd with 20 running workspaces, and of one idle agent
`bench.py devcontainer IMAGE` — `nexus workspace create` beside `devcontainer up`
  of @devcontainers/cli: an image config and a Dockerfile config with one local
  feature, cold (built images removed) and warm
`bench.py scale` — N = 50, 100, 200 busybox workspaces beside as many plain
  containers: create throughput, list/exec p50/p99, daemon RSS and open
  files, host CPU while idle over 30 s, failed creates
`bench.py ssh` — the agent beside OpenSSH's sshd, one image, both on ports
  Docker publishes on 127.0.0.1:
  connect  `ssh … true`, median of 20
  stream   1 GiB each way (stdin to `cat > /dev/null`; `head -c 1G /dev/zero`
           to stdout), median of 5 interleaved rounds
  scp      a 256 MiB file, upload, median of 5 interleaved rounds
  memory   RSS of the agent with 20 open sessions (and of all sshd processes)
`bench.py checkpoint` — git checkpoints of a 3,000-file dirty tree (300
  modified, 100 deleted, 300 untracked) beside the git CLI doing the same:
  record  `nexus workspace checkpoint create`  vs  `git add -A` into a
          temporary index + `write-tree` + `commit-tree` + `update-ref`
  restore `nexus workspace restore` (which checkpoints the state first)  vs
          `git reset --hard` + `git clean` + `read-tree -u --reset` + `read-tree`
  fork    `nexus workspace fork WS@CP NEW` until SSH answers  vs  `nexus workspace create
          --from` the same commit
  medians of 5 (fork: 3) interleaved rounds
`bench.py shadow` — `nexus shadow` from a running workspace until the agent's
  first command, beside `nexus workspace fork` until SSH answers, medians of 5
`bench.py mcp` — MCP `exec` of `true` through `nexus mcp --workspace` (stdio)
  and the daemon's `/mcp` (HTTP) beside the SDK's `exec.run`, p50 of 200
`bench.py idle` — the first `ssh … true` to a paused and to a stopped
  workspace (idle) beside one to an awake workspace, and plain Docker's
  `docker unpause`/`docker start` + `docker exec true`, medians of 5
`bench.py trace` — a commit of 100 changed files an agent (MCP) and a person
  edited in turns: `git commit` in the traced worktree beside a plain clone,
  and the commit's return until its Agent Trace note is written, medians of 5
`bench.py dashboard` — the web dashboard's budgets with 50 running
  workspaces: brotli bytes of `/` and a workspace page, the cold load of
  `/` (and with the CPU throttled 4×), the daemon's extra CPU with the
  overview open (web/bench/dashboard.mjs in chromium)
`bench.py update` — `nexus update` against a release server on 127.0.0.1
  (the debug build, whose test keys a release build lacks; a 30 MiB release):
  check    `nexus update check` (fetch + verify the manifest)  vs  `curl` of the
           manifest and its signature + `minisign -V`, p50 of 20
  install  `nexus update install` of 30 MiB (download, hash, verify, unpack,
           test launch, switch)  vs  `curl` + `minisign -V` + `tar -xzf` by hand,
           medians of 5; the download alone (`curl`) beside both
  notice   `nexus workspace list` in a terminal with the notice's state cached,
           beside the same with NEXUS_NO_UPDATE_CHECK=1, p50 of 20
Runs its own daemon (own data directory and port) and removes all it made.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# NEXUS_BENCH_PROFILE=debug measures the debug build (no release build needed)
PROFILE = os.environ.get("NEXUS_BENCH_PROFILE", "release")
NEXUS = os.path.join(ROOT, f"target/{PROFILE}/nexus")
NEXUSD = os.path.join(ROOT, f"target/{PROFILE}/nexusd")
MODE = sys.argv[1] if len(sys.argv) > 1 else "core"
IMAGE = sys.argv[2] if len(sys.argv) > 2 else "nexus/default:bookworm"
OPENSSH_IMAGE = "nexus-test/openssh:bookworm"
ROUNDS_CREATE = 5
ROUNDS_EXEC = 20
LABEL = "dev.nexus.bench=1"


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def timed(args, **kw):
    t = time.perf_counter()
    run(args, **kw)
    return time.perf_counter() - t


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ssh_bench():
    """The agent (a workspace of OPENSSH_IMAGE) beside sshd (a plain
    container of the same image), each on a port of 127.0.0.1 with one
    userland copy on the way: Nexus's relay (which gives the agent each
    client's address) for the agent, Docker's proxy for sshd."""
    run(["docker", "build", "-q", "-t", OPENSSH_IMAGE, os.path.join(ROOT, "scripts/bench-openssh")])
    work, env, repo = bench_home(47392)
    key = f"{work}/home/.ssh/id_ed25519"
    nexus = lambda *a: [NEXUS, *a]
    daemon_pid = None
    sessions = []
    try:
        daemon_pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        ws = json.loads(run(nexus("workspace", "create", "sshbench", "--image", OPENSSH_IMAGE, "--json"), env=env, cwd=repo).stdout)
        cname = f"nexus-sshbench-{ws['id'][:8]}"
        pub = open(key + ".pub").read().strip()
        sshd = run(["docker", "run", "-d", "--label", LABEL, "-p", "127.0.0.1::22", OPENSSH_IMAGE, "sh", "-c",
                    f"mkdir -p /root/.ssh && echo '{pub}' > /root/.ssh/authorized_keys && chmod 700 /root/.ssh"
                    " && chmod 600 /root/.ssh/authorized_keys && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -p 22"]).stdout.strip()
        sshd_port = run(["docker", "port", sshd, "22/tcp"]).stdout.split()[0].rsplit(":", 1)[1]
        opts = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-i", key]
        servers = {"nexus-agent": str(ws["sshPort"]), "openssh sshd": sshd_port}
        ssh = lambda port: ["ssh", *opts, "-p", port, "root@127.0.0.1"]
        for port in servers.values():  # sshd takes a moment to start
            for _ in range(100):
                if subprocess.run(ssh(port) + ["true"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
        big = f"{work}/big.bin"
        with open(big, "wb") as f:
            f.write(os.urandom(256 << 20))
        # memory first, on the fresh servers: 20 open sessions each, opened one
        # at a time (sshd refuses bursts of unauthenticated connections, MaxStartups)
        def open_sessions(port):
            procs = []
            for _ in range(20):
                procs.append(subprocess.Popen(ssh(port) + ["sleep 300"], stdin=subprocess.DEVNULL))
                time.sleep(0.15)
            time.sleep(2)
            return procs
        sessions += open_sessions(servers["nexus-agent"])
        agent_pid = int(run(["docker", "inspect", "-f", "{{.State.Pid}}", cname]).stdout.strip())
        agent_rss = rss_kib(agent_pid)
        sessions += open_sessions(servers["openssh sshd"])
        top = run(["docker", "top", sshd, "-eo", "pid,comm,rss"]).stdout.splitlines()[1:]
        sshd_rss = sum(int(l.split()[2]) for l in top if l.split()[1] == "sshd")
        for p in sessions:
            p.kill()
        # throughput: five rounds, the servers interleaved, medians reported
        connect, up, down, scp = ({n: [] for n in servers} for _ in range(4))
        for name, port in servers.items():
            timed(ssh(port) + ["true"])  # warm up
            connect[name] = [timed(ssh(port) + ["true"]) for _ in range(20)]
        for _ in range(5):
            for name, port in servers.items():
                cmd = " ".join(ssh(port))
                t = time.perf_counter()
                subprocess.run(f"head -c 1073741824 /dev/zero | {cmd} 'cat > /dev/null'", shell=True, check=True)
                up[name].append(1024 / (time.perf_counter() - t))
                t = time.perf_counter()
                subprocess.run(f"{cmd} 'head -c 1073741824 /dev/zero' > /dev/null", shell=True, check=True)
                down[name].append(1024 / (time.perf_counter() - t))
                scp[name].append(256 / timed(["scp", *opts, "-P", port, big, "root@127.0.0.1:/tmp/big.bin"]))
        med = lambda xs: statistics.median(xs)
        a, o = "nexus-agent", "openssh sshd"
        print(f"the agent (workspace of {OPENSSH_IMAGE}, through Nexus's relay) beside sshd (a container of it, through Docker's proxy), both on 127.0.0.1")
        print(f"{'figure':56} {'nexus-agent':>12} {'openssh':>12} {'ratio':>7}  goal")
        print(f"{'ssh … true, median of 20 (ms)':56} {med(connect[a])*1000:12.1f} {med(connect[o])*1000:12.1f} {med(connect[a])/med(connect[o]):7.2f}  nexus <= 1.1 x openssh")
        for label, fig in (("1 GiB up, stdin to cat > /dev/null, median of 5 (MiB/s)", up),
                           ("1 GiB down, head -c 1G /dev/zero, median of 5 (MiB/s)", down),
                           ("scp of 256 MiB upload, median of 5 (MiB/s)", scp)):
            print(f"{label:56} {med(fig[a]):12.0f} {med(fig[o]):12.0f} {med(fig[a])/med(fig[o]):7.2f}  nexus >= 1.1 x openssh")
        print(f"{'RSS with 20 open sessions (MiB)':56} {agent_rss/1024:12.1f} {sshd_rss/1024:12.1f}           (sshd: all its processes)")
        print("rounds (MiB/s): " + json.dumps({"up": up, "down": down, "scp": scp}, default=lambda v: round(v)))
    finally:
        for p in sessions:
            p.kill()
        subprocess.run(nexus("workspace", "rm", "sshbench", "--force", "--delete-branch"), env=env, cwd=repo, capture_output=True)
        tear_down(daemon_pid, work, LABEL)


def tear_down(daemon_pid, work, label=None):
    """Removes the containers labelled `label` (a `key` or `key=value`
    filter), stops the bench's daemon and deletes its directory."""
    if label:
        left = run(["docker", "ps", "-aq", "--filter", f"label={label}"]).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    relay = relay_pid(work)
    for pid in (daemon_pid, relay):
        if pid:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
    shutil.rmtree(work, ignore_errors=True)


def relay_pid(work):
    """The pid of the SSH relay (`nexusd --relay`) of the bench's daemon,
    from its lock file, if it runs."""
    try:
        pid = int(open(f"{work}/data/relay.lock").read().strip())
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    except (OSError, ValueError):
        return None
    return pid if b"--relay" in cmdline and f"{work}/data".encode() in cmdline else None


def bench_home(port):
    """A fresh HOME with an SSH key, a clone of this repository, and the
    environment that points `nexus` at a daemon of its own on `port`."""
    work = tempfile.mkdtemp(prefix="nexus-bench-")
    env = dict(os.environ, NEXUS_DATA_DIR=f"{work}/data", NEXUS_HOST=f"127.0.0.1:{port}", HOME=f"{work}/home")
    os.makedirs(f"{work}/home/.ssh")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{work}/home/.ssh/id_ed25519"])
    repo = f"{work}/repo"
    run(["git", "clone", "-q", ROOT, repo])
    return work, env, repo


def api_bench():
    """The SDK beside the Docker API: exec.run, fs.readFile, 100 streams."""
    work, env, repo = bench_home(47392)
    nexus = lambda *a: [NEXUS, *a]
    image = "nexus/default:bookworm"
    cid, pid = None, None
    try:
        pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        run(nexus("workspace", "create", "bapi", "--image", image), env=env, cwd=repo)
        cid = run(["docker", "run", "-d", "--label", LABEL, "--entrypoint", "sleep", image, "infinity"]).stdout.strip()
        token = open(f"{work}/data/token").read().strip()
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "nexus-e2e", "--example", "api_bench"], cwd=ROOT, check=True)
        bench = os.path.join(ROOT, "target/release/examples/api_bench")
        subprocess.run([bench, "127.0.0.1:47392", token, "bapi", cid, str(pid)], check=True)
    finally:
        subprocess.run(nexus("workspace", "rm", "bapi", "--force", "--delete-branch"), env=env, cwd=repo, capture_output=True)
        if cid:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        tear_down(pid, work)


REFERENCE_VERSION = "0.89.0"


def reference_cli():
    """`devcontainer` of @devcontainers/cli, installed from npm once (the
    directory tests/tests/reference.rs uses too)."""
    d = os.path.join(tempfile.gettempdir(), f"nexus-devcontainers-cli-{REFERENCE_VERSION}")
    cli = os.path.join(d, "node_modules/.bin/devcontainer")
    if not os.path.exists(cli):
        run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", d, f"@devcontainers/cli@{REFERENCE_VERSION}"])
    return cli


def seed_control_manifest():
    """A fresh control-manifest cache, so `devcontainer up` makes no network call."""
    d = os.path.join(tempfile.gettempdir(), f"devcontainercli-{os.environ.get('USER', 'root')}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "control-manifest.json"), "w") as f:
        f.write('{"disallowedFeatures": [], "featureAdvisories": []}')


def devcontainer_bench():
    """`nexus workspace create` until SSH answers beside `devcontainer up`
    until it returns, on the same repository and local image: an `image`
    config and a Dockerfile config with one local feature, cold (the built
    images removed first) and warm; median of 3 rounds, the tools interleaved."""
    cli = reference_cli()
    work, env, _ = bench_home(47393)
    nexus = lambda *a: [NEXUS, *a]
    configs = {
        "image": {".devcontainer/devcontainer.json": json.dumps({"image": IMAGE, "remoteUser": "dev"})},
        "Dockerfile + 1 local feature": {
            ".devcontainer/devcontainer.json": json.dumps(
                {"build": {"dockerfile": "Dockerfile"}, "remoteUser": "dev", "features": {"./hello": {"greeting": "hi"}}}
            ),
            ".devcontainer/Dockerfile": f"FROM {IMAGE}\nRUN echo built > /tmp/built\n",
            ".devcontainer/hello/devcontainer-feature.json": json.dumps(
                {"id": "hello", "version": "1.0.0", "name": "hello", "options": {"greeting": {"type": "string", "default": "hello"}}}
            ),
            ".devcontainer/hello/install.sh": "#!/bin/sh\nset -e\necho \"$GREETING\" > /usr/local/share/hello\n",
        },
    }
    daemon_pid = None
    results = []
    try:
        daemon_pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=work).stdout)["pid"]
        for ci, (label, files) in enumerate(configs.items()):
            repo = f"{work}/repo{ci}"
            os.makedirs(repo)
            run(["git", "init", "-q", repo])
            for path, text in files.items():
                os.makedirs(os.path.dirname(f"{repo}/{path}"), exist_ok=True)
                with open(f"{repo}/{path}", "w") as f:
                    f.write(text)
            run(["git", "add", "-A"], cwd=repo)
            run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"], cwd=repo)
            for cold in (True, False):
                ours, theirs = [], []
                for i in range(3):
                    name = f"dc{ci}{int(cold)}{i}"
                    if cold:
                        built = run(["docker", "images", "-q", "--filter", "label=dev.nexus.build"]).stdout.split()
                        built += run(["docker", "images", "-q", "--filter", "reference=vsc-*"]).stdout.split()
                        if built:
                            subprocess.run(["docker", "rmi", "-f", *set(built)], capture_output=True)
                    ours.append(timed(nexus("workspace", "create", name), env=env, cwd=repo))
                    run(nexus("workspace", "rm", name, "--force", "--delete-branch"), env=env, cwd=repo)
                    if cold:
                        built = run(["docker", "images", "-q", "--filter", "reference=vsc-*"]).stdout.split()
                        if built:
                            subprocess.run(["docker", "rmi", "-f", *set(built)], capture_output=True)
                    seed_control_manifest()
                    id_label = f"{LABEL.split('=')[0]}={name}"
                    theirs.append(timed([cli, "up", "--workspace-folder", repo, "--id-label", id_label]))
                    left = run(["docker", "ps", "-aq", "--filter", f"label={id_label}"]).stdout.split()
                    if left:
                        run(["docker", "rm", "-f", "-v", *left])
                results.append((f"{label}, {'cold' if cold else 'warm'}", statistics.median(ours), statistics.median(theirs)))
        print(f"image: {IMAGE}; @devcontainers/cli {REFERENCE_VERSION}; median of 3")
        print(f"{'create until SSH answers / devcontainer up (s)':52} {'nexus':>10} {'reference':>10} {'ratio':>7}  goal")
        for label, o, t in results:
            print(f"{label:52} {o:10.3f} {t:10.3f} {o / t:7.2f}  nexus <= 0.5 x reference")
    finally:
        tear_down(daemon_pid, work, LABEL.split("=")[0])


def host_busy_jiffies():
    """Busy jiffies of all CPUs so far (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def jiffies_by_command():
    """User and system jiffies of every process so far, by command name."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[pid] = (comm, int(fields[11]) + int(fields[12]))
    return out


def idle_cpu(seconds=30, commands=()):
    """CPU used over `seconds`, in % of one core: the whole host's, and that
    of the processes named `commands` together."""
    hz = os.sysconf("SC_CLK_TCK")
    before, procs = host_busy_jiffies(), jiffies_by_command()
    time.sleep(seconds)
    host = 100.0 * (host_busy_jiffies() - before) / hz / seconds
    after = jiffies_by_command()
    own = sum(t - procs[p][1] for p, (c, t) in after.items() if c in commands and p in procs)
    return host, 100.0 * own / hz / seconds


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Pressure:
    """Outgoing connections held and replaced all the time, as a busy host
    has them: their source ports come from the ephemeral range, which the
    default SSH port range lies in, so some take ports the daemon has just
    judged free (`NEXUS_BENCH_PRESSURE` connections, 0 for none)."""

    def __init__(self, count):
        import socket
        import threading
        self.count, self.stop, self.in_range = count, threading.Event(), 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4096)
        self.threads = [threading.Thread(target=self.accept, daemon=True), threading.Thread(target=self.churn, daemon=True)]
        for t in self.threads:
            t.start()

    def accept(self):
        held = []
        while not self.stop.is_set():
            try:
                held.append(self.server.accept()[0])
            except OSError:
                return
            if len(held) > 4 * self.count:
                for c in held[: self.count]:
                    c.close()
                del held[: self.count]

    def churn(self):
        import random
        import socket
        pool = []
        while not self.stop.is_set():
            while len(pool) < self.count:
                c = socket.create_connection(self.server.getsockname())
                pool.append(c)
                if 32800 <= c.getsockname()[1] <= 34999:
                    self.in_range += 1
            for c in random.sample(pool, min(50, len(pool))):
                pool.remove(c)
                c.close()
            time.sleep(0.02)
        for c in pool:
            c.close()

    def close(self):
        self.stop.set()
        self.server.close()


NEXUS_PROCESSES = ("nexusd", "nexus-agent", "docker-proxy")
DOCKER_PROCESSES = ("dockerd", "containerd", "containerd-shim")


def scale_bench():
    """Nexus with N = 50, 100, 200 running workspaces, then plain Docker with
    as many containers of the same image (`docker run -d IMAGE sleep
    infinity`): create throughput (8 at a time), list/ps and exec p50/p99,
    daemon RSS and open files, host CPU while all sit idle over 30 s,
    failed creates."""
    from concurrent.futures import ThreadPoolExecutor
    image = "nexus-test/busybox:latest"
    sizes = [int(n) for n in os.environ.get("NEXUS_BENCH_SCALE", "50,100,200").split(",")]
    work, env, repo = bench_home(47393)
    nexus = lambda *a: [NEXUS, *a]
    daemon_pid = None
    ours, theirs = [], []
    ms = lambda xs: f"{pct(xs, 50)*1000:.0f}/{pct(xs, 99)*1000:.0f}"
    held = int(os.environ.get("NEXUS_BENCH_PRESSURE", "1500"))
    pressure, in_range = None, 0
    try:
        daemon_pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        made = 0
        for n in sizes:
            def create(i):
                r = subprocess.run(nexus("workspace", "create", f"s{i}", "--image", image), env=env, cwd=repo,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"create s{i} failed: {r.stderr.strip()}", file=sys.stderr)
                return r.returncode == 0
            pressure = Pressure(held) if held else None
            t = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                ok = list(pool.map(create, range(made, n)))
            rate = (n - made) / (time.perf_counter() - t)
            if pressure:
                pressure.close()
                in_range += pressure.in_range
            made = n
            lst = [timed(nexus("workspace", "list"), env=env, cwd=repo) for _ in range(20)]
            ex = [timed(nexus("workspace", "exec", f"s{i * 7 % n}", "--", "true"), env=env, cwd=repo) for i in range(20)]
            rss = rss_kib(daemon_pid) / 1024
            relay = relay_pid(work)
            relay_rss = rss_kib(relay) / 1024 if relay else 0.0
            fds = len(os.listdir(f"/proc/{daemon_pid}/fd"))
            cpu = idle_cpu(commands=NEXUS_PROCESSES)
            ours.append((n, rate, ok.count(False), lst, ex, rss, relay_rss, fds, cpu))
            print(f"nexus N={n}: {rate:.1f} creates/s, idle CPU {cpu[0]:.1f} % (Nexus's own {cpu[1]:.2f} %)", file=sys.stderr)
        names = [f"s{i}" for i in range(made)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda nm: run(nexus("workspace", "rm", nm, "--force", "--delete-branch"), env=env, cwd=repo), names))
        plain = []
        for n in sizes:
            def start(_):
                r = subprocess.run(["docker", "run", "-d", "--label", LABEL, "--entrypoint", "sleep", image, "infinity"],
                                   capture_output=True, text=True)
                return r.stdout.strip() if r.returncode == 0 else None
            t = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                started = list(pool.map(start, range(n - len(plain))))
            rate = len(started) / (time.perf_counter() - t)
            plain += [c for c in started if c]
            dps = [timed(["docker", "ps"]) for _ in range(20)]
            dex = [timed(["docker", "exec", plain[i * 7 % len(plain)], "true"]) for i in range(20)]
            cpu = idle_cpu(commands=DOCKER_PROCESSES)
            theirs.append((n, rate, started.count(None), dps, dex, cpu))
            print(f"docker N={n}: {rate:.1f} runs/s, idle CPU {cpu[0]:.1f} % (Docker's own {cpu[1]:.2f} %)", file=sys.stderr)
        print(f"busybox workspaces ({image}) beside as many plain containers of it (docker run -d … sleep infinity); 8 creates at a time")
        print(f"{'N':>4} {'creates/s':>10} {'failed':>7} {'list p50/p99 ms':>16} {'exec p50/p99 ms':>16} {'RSS MiB':>8} {'relay':>6} {'fds':>5} {'idle host/own %':>16}   "
              f"{'docker runs/s':>13} {'failed':>7} {'ps p50/p99':>11} {'exec p50/p99':>13} {'idle host/own %':>16}")
        for (n, rate, failed, lst, ex, rss, relay_rss, fds, cpu), (_, drate, dfailed, dps, dex, dcpu) in zip(ours, theirs):
            print(f"{n:>4} {rate:>10.1f} {failed:>7} {ms(lst):>16} {ms(ex):>16} {rss:>8.1f} {relay_rss:>6.1f} {fds:>5} {cpu[0]:>9.1f}/{cpu[1]:<6.2f}   "
                  f"{drate:>13.1f} {dfailed:>7} {ms(dps):>11} {ms(dex):>13} {dcpu[0]:>9.1f}/{dcpu[1]:<6.2f}")
        print("RSS: the daemon's; relay: the SSH relay's (nexusd --relay, one process for all workspaces)")
        print("idle host/own: CPU over 30 s while all sit idle, in % of one core: the whole host's, and own =")
        print(f"  Nexus's processes ({', '.join(NEXUS_PROCESSES)}) / Docker's ({', '.join(DOCKER_PROCESSES)})")
        print(f"creates ran while {held} outgoing connections were held and replaced (50 every 20 ms); "
              f"{in_range} of them took a source port in 32800-34999; the plain containers publish no port")
        print("goals at 200: idle CPU of Nexus's processes <= 5 % of one core, list <= 20 ms, exec true <= 20 ms p50, 0 failures, daemon RSS <= 100 MiB")
    finally:
        if pressure:
            pressure.close()
        subprocess.run(["sh", "-c", f"docker ps -aq --filter label={LABEL} | xargs -r docker rm -f >/dev/null"])
        ws = subprocess.run(nexus("workspace", "list", "--json"), env=env, cwd=repo, capture_output=True, text=True)
        try:
            names = [w["name"] for w in json.loads(ws.stdout or "[]")]
        except ValueError:
            names = []
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda nm: subprocess.run(nexus("workspace", "rm", nm, "--force", "--delete-branch"), env=env,
                                                    cwd=repo, capture_output=True), names))
        tear_down(daemon_pid, work)


def checkpoint_bench():
    """Git checkpoints: `nexus workspace checkpoint create` and `restore`
    beside the git CLI's way to record and bring back the same state."""
    work, env, repo = bench_home(47394)
    nexus = lambda *a: [NEXUS, *a]
    daemon_pid = None
    try:
        daemon_pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        ws = json.loads(run(nexus("workspace", "create", "cp", "--image", "nexus-test/busybox:latest", "--json"),
                            env=env, cwd=repo).stdout)
        wt = ws["worktree"]
        g = lambda *a, **kw: run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *a], cwd=wt, **kw).stdout
        for i in range(3000):
            d = f"{wt}/src/d{i % 30}"
            os.makedirs(d, exist_ok=True)
            with open(f"{d}/f{i}.txt", "w") as f:
                f.write(f"file {i}\n" * 20)
        g("add", "-A")
        g("commit", "-qm", "3000 files")
        for i in range(0, 300):
            with open(f"{wt}/src/d{i % 30}/f{i}.txt", "a") as f:
                f.write("changed\n")
        for i in range(300, 400):
            os.remove(f"{wt}/src/d{i % 30}/f{i}.txt")
        for i in range(300):
            with open(f"{wt}/src/d{i % 30}/new{i}.txt", "w") as f:
                f.write("new\n")
        git_dir = g("rev-parse", "--absolute-git-dir").strip()
        rec_ours, rec_git, res_ours, res_git = [], [], [], []
        for r in range(5):
            rec_ours.append(timed(nexus("workspace", "checkpoint", "create", "cp", f"n{r}"), env=env, cwd=repo))
            t = time.perf_counter()
            index = f"{work}/peer-index"
            shutil.copyfile(f"{git_dir}/index", index)
            genv = dict(os.environ, GIT_INDEX_FILE=index)
            g("add", "-A", env=genv)
            tree = g("write-tree", env=genv).strip()
            commit = g("commit-tree", tree, "-p", "HEAD", "-m", "peer").strip()
            g("update-ref", f"refs/peer/{r}", commit)
            rec_git.append(time.perf_counter() - t)
            res_ours.append(timed(nexus("workspace", "restore", "cp", f"n{r}"), env=env, cwd=repo))
            t = time.perf_counter()
            head = g("rev-parse", "HEAD").strip()
            g("reset", "-q", "--hard", head)
            g("clean", "-fdq")
            g("read-tree", "-u", "--reset", commit)
            g("read-tree", head)
            res_git.append(time.perf_counter() - t)
        # a fork until SSH answers, beside a create of the same image until SSH answers
        fork, create = [], []
        for r in range(3):
            fork.append(timed(nexus("workspace", "fork", f"cp@n{r}", f"f{r}"), env=env, cwd=repo))
            # the same tree: a create from the checkpoint's commit (the branch's tip)
            create.append(timed(nexus("workspace", "create", f"c{r}", "--image", "nexus-test/busybox:latest",
                                      "--from", "nexus/cp"), env=env, cwd=repo))
            for name in (f"f{r}", f"c{r}"):
                run(nexus("workspace", "rm", name, "--force", "--delete-branch"), env=env, cwd=repo)
        med = statistics.median
        print("git checkpoints of a 3,000-file tree with 300 modified, 100 deleted and 300 untracked files")
        print(f"{'figure':52} {'nexus':>10} {'git CLI':>10}  goal")
        print(f"{'record, median of 5 (s)':52} {med(rec_ours):10.3f} {med(rec_git):10.3f}  nexus <= 0.3")
        print(f"{'restore, median of 5 (s)':52} {med(res_ours):10.3f} {med(res_git):10.3f}  nexus <= 0.5")
        print(f"{'fork until SSH answers / create, median of 3 (s)':52} {med(fork):10.3f} {med(create):10.3f}  fork <= create + 0.2")
        print("nexus: the CLI through the daemon's API (a restore records the state it replaces first);"
              " git CLI: a temporary index, add -A, write-tree, commit-tree, update-ref / reset --hard, clean, read-tree -u")
    finally:
        for name in ["cp"] + [f"f{r}" for r in range(3)] + [f"c{r}" for r in range(3)]:
            subprocess.run(nexus("workspace", "rm", name, "--force", "--delete-branch"), env=env, cwd=repo,
                           capture_output=True)
        tear_down(daemon_pid, work)


def team_bench():
    """Team mode beside single-user mode, one daemon with the same 200
    running workspaces: exec.run true p50 through the SDK before and after
    `nexusd admin init`; then workspace.list with 1,000 people and 2,000
    shares."""
    image = "nexus-test/busybox:latest"
    work, env, repo = bench_home(47394)
    nexus = lambda *a: [NEXUS, *a]
    pid = None
    try:
        pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        run(nexus("workspace", "create", "t000", "--image", image), env=env, cwd=repo)
        token = open(f"{work}/data/token").read().strip()
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "nexus-e2e", "--example", "team_bench"],
                       cwd=ROOT, check=True)
        bench = os.path.join(ROOT, "target/release/examples/team_bench")
        single = run([bench, "single", "127.0.0.1:47394", token, "t000", image, repo], env=env).stdout.strip()
        os.kill(pid, 15)
        for _ in range(200):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.05)
        run([NEXUSD, "--data-dir", f"{work}/data", "admin", "init", "--admin", "ana",
             "--key", f"{work}/home/.ssh/id_ed25519.pub"], env=env)
        pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        subprocess.run([bench, "team", "127.0.0.1:47394", token, "t000", single], env=env, check=True)
    finally:
        tear_down(pid, work, daemon_label(work))


def shadow_bench():
    """`nexus shadow` from a running workspace: from the command's start to
    the agent's first command (it prints the time it starts), median of 5,
    beside `nexus workspace fork` of the same workspace until SSH answers."""
    image = "nexus-test/busybox:latest"
    work, env, repo = bench_home(47397)
    pid = None
    try:
        pid = json.loads(run([NEXUS, "daemon", "info", "--json"], env=env, cwd=repo).stdout)["pid"]
        run([NEXUS, "workspace", "create", "src", "--image", image], env=env, cwd=repo)
        ours, forks = [], []
        for i in range(5):
            # the container shares the kernel's clock: /proc/uptime inside is the host's (10 ms steps)
            uptime = lambda: float(open("/proc/uptime").read().split()[0])
            t = uptime()
            out = run([NEXUS, "shadow", f"s{i}", "--from", "src", "--", "cat", "/proc/uptime"],
                      env=env, cwd=repo).stdout
            first = float(out.splitlines()[0].split()[0])
            ours.append(first - t)
            run([NEXUS, "discard", f"s{i}"], env=env, cwd=repo)
            forks.append(timed([NEXUS, "workspace", "fork", "src", f"f{i}"], env=env, cwd=repo))
            run([NEXUS, "workspace", "rm", f"f{i}", "--force", "--delete-branch"], env=env, cwd=repo)
        print("| | median of 5 | goal |")
        print("| --- | --- | --- |")
        print(f"| `nexus shadow`: start to the agent's first command | {statistics.median(ours):.2f} s | ≤ 1.5 s |")
        print(f"| `nexus workspace fork` of the same workspace, until SSH answers | {statistics.median(forks):.2f} s | |")
    finally:
        tear_down(pid, work, daemon_label(work))


def mcp_bench():
    """MCP `exec true` beside the SDK's `exec.run`: stdio and HTTP."""
    image = "nexus-test/busybox:latest"
    work, env, repo = bench_home(47396)
    pid = None
    try:
        pid = json.loads(run([NEXUS, "daemon", "info", "--json"], env=env, cwd=repo).stdout)["pid"]
        run([NEXUS, "workspace", "create", "m", "--image", image], env=env, cwd=repo)
        token = open(f"{work}/data/token").read().strip()
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "nexus-e2e", "--example", "mcp_bench"],
                       cwd=ROOT, check=True)
        bench = os.path.join(ROOT, "target/release/examples/mcp_bench")
        subprocess.run([bench, "127.0.0.1:47396", token, "m", NEXUS], env=env, cwd=repo, check=True)
    finally:
        tear_down(pid, work, daemon_label(work))


def update_bench():
    """`nexus update` beside curl + minisign + tar doing the same by hand."""
    import http.server
    import threading
    debug_nexus = os.path.join(ROOT, "target/debug/nexus")
    subprocess.run(["cargo", "build", "-q", "-p", "nexus-cli", "-p", "nexusd"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="nexus-bench-update-")
    dist, stage = f"{work}/dist", f"{work}/stage"
    os.makedirs(dist)
    os.makedirs(stage)
    target = "x86_64-unknown-linux-gnu"
    version = "9.0.0"
    key = f"{work}/bench.key"
    run(["minisign", "-G", "-W", "-p", f"{work}/bench.pub", "-s", key])
    # a 30 MiB release: stand-in binaries, the agent padded with incompressible bytes
    with open(f"{stage}/nexus", "w") as f:
        f.write(f"#!/bin/sh\necho nexus {version}\n")
    with open(f"{stage}/nexusd", "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    with open(f"{stage}/nexus-agent", "wb") as f:
        f.write(b"#!/bin/sh\nexit 0\n" + os.urandom(30 * 1024 * 1024))
    name = f"nexus-{version}-{target}.tar.gz"
    run(["sh", "-c", f"tar -C {stage} -cf - nexus nexusd nexus-agent | gzip -1 > {dist}/{name}"])
    run(["minisign", "-S", "-s", key, "-m", f"{dist}/{name}", "-t",
         f"version:{version} target:{target} file:{name} channel:stable"])
    data = open(f"{dist}/{name}", "rb").read()
    import hashlib
    now = int(time.time())
    manifest = {"schema": 1, "serial": 1, "issuedAt": now, "expiresAt": now + 86400,
                "channels": {"stable": {"version": version, "notes": "bench", "targets": {
                    target: {"url": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}}}}
    json.dump(manifest, open(f"{dist}/manifest.json", "w"))
    run(["minisign", "-S", "-s", key, "-m", f"{dist}/manifest.json", "-t", "bench manifest"])

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=dist, **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(os.environ, NEXUS_UPDATE_TEST_KEYS=f"{work}/bench.pub", NEXUS_DATA_DIR=f"{work}/no-daemon",
               NEXUS_INSTALL_DIR=f"{work}/install", HOME=f"{work}/home")
    env.pop("NEXUS_HOST", None)

    def timed_ok(args, env=env, ok=(0,)):
        t = time.perf_counter()
        r = subprocess.run(args, env=env, capture_output=True)
        took = time.perf_counter() - t
        if r.returncode not in ok:
            raise SystemExit(f"{args}: exit {r.returncode}: {r.stderr.decode()}")
        return took

    def by_hand_check():
        return timed_ok(["sh", "-c", f"curl -sf {base}/manifest.json -o {work}/m.json && "
                         f"curl -sf {base}/manifest.json.minisig -o {work}/m.json.minisig && "
                         f"minisign -Vq -p {work}/bench.pub -m {work}/m.json"])

    try:
        check_ours = [timed_ok([debug_nexus, "update", "check", "--from", f"{base}/manifest.json"]) for _ in range(20)]
        check_theirs = [by_hand_check() for _ in range(20)]
        inst_ours, inst_theirs, download = [], [], []
        for i in range(5):
            shutil.rmtree(f"{work}/install", ignore_errors=True)
            inst_ours.append(timed_ok([debug_nexus, "update", "install", "--from", f"{base}/manifest.json", "--yes"]))
            download.append(timed_ok(["curl", "-sf", f"{base}/{name}", "-o", f"{work}/dl.tar.gz"]))
            shutil.rmtree(f"{work}/by-hand", ignore_errors=True)
            os.makedirs(f"{work}/by-hand")
            inst_theirs.append(timed_ok(["sh", "-c", f"curl -sf {base}/{name} -o {work}/h.tar.gz && "
                                         f"curl -sf {base}/{name}.minisig -o {work}/h.tar.gz.minisig && "
                                         f"minisign -Vq -p {work}/bench.pub -m {work}/h.tar.gz && "
                                         f"tar -C {work}/by-hand -xzf {work}/h.tar.gz"]))
        # the notice: a cached newer version, in a terminal, with a daemon to list
        daemon_env = dict(env, NEXUS_DATA_DIR=f"{work}/data", NEXUS_HOST="127.0.0.1:47395",
                          NEXUS_INSTALL_DIR=f"{work}/notice")
        os.makedirs(f"{work}/notice")
        json.dump({"latest": "99.0.0", "lastAttempt": int(time.time()), "lastCheck": int(time.time())},
                  open(f"{work}/notice/state.json", "w"))
        subprocess.run([debug_nexus, "daemon", "info"], env=daemon_env, capture_output=True, check=True)
        listing = ["script", "-qec", f"{debug_nexus} workspace list", "/dev/null"]
        quiet_env = dict(daemon_env, NEXUS_NO_UPDATE_CHECK="1")
        for _ in range(3):
            timed_ok(listing, env=daemon_env)
        with_notice, without = [], []
        for _ in range(20):
            with_notice.append(timed_ok(listing, env=daemon_env))
            without.append(timed_ok(listing, env=quiet_env))
        out = subprocess.run(listing, env=daemon_env, capture_output=True, text=True).stdout
        assert "is available" in out, out
        # a day-old check against a server that accepts and never answers: the
        # command only spawns the detached check, it never waits for it
        import socket
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(64)
        hanging_env = dict(daemon_env, NEXUS_UPDATE_URL=f"http://127.0.0.1:{hang.getsockname()[1]}/manifest.json")
        against_hang = []
        for _ in range(10):
            json.dump({"latest": "99.0.0", "lastAttempt": 0}, open(f"{work}/notice/state.json", "w"))
            against_hang.append(timed_ok(listing, env=hanging_env))
        hang.close()
    finally:
        server.shutdown()
        pids = [relay_pid(work)]
        try:
            pids.append(int(open(f"{work}/data/nexusd.lock").read().strip()))
        except (OSError, ValueError):
            pass
        for pid in pids:
            if pid:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
        shutil.rmtree(work, ignore_errors=True)
    ms = lambda xs: statistics.median(xs) * 1000
    print(f"| | nexus update | by hand (curl, minisign, tar) | goal |")
    print(f"| --- | --- | --- | --- |")
    print(f"| check, p50 of 20 | {ms(check_ours):.1f} ms | {ms(check_theirs):.1f} ms | ≤ 100 ms |")
    print(f"| install of {len(data) >> 20} MiB, median of 5 | {ms(inst_ours):.0f} ms | {ms(inst_theirs):.0f} ms | |")
    print(f"| the download alone (curl), median of 5 | {ms(download):.0f} ms | | |")
    print(f"| install minus download | {ms(inst_ours) - ms(download):.0f} ms | {ms(inst_theirs) - ms(download):.0f} ms | ≤ 2000 ms |")
    print(f"| `workspace list` with the notice, p50 of 20 | {ms(with_notice):.1f} ms | | |")
    print(f"| the same, NEXUS_NO_UPDATE_CHECK=1 | {ms(without):.1f} ms | | |")
    print(f"| the notice adds | {ms(with_notice) - ms(without):.1f} ms | | ≤ 5 ms |")
    print(f"| `workspace list` starting the daily check, the server hanging, median of 10 | {ms(against_hang):.1f} ms | | |")
    print(f"| the daily check adds | {ms(against_hang) - ms(without):.1f} ms | | ≤ 300 ms |")


def trace_bench():
    """Agent Trace on a commit of 100 changed files: an agent (`nexus mcp
    --model`) and a person take turns editing them, then `git commit`;
    the commit's time in the traced worktree beside the same commit in a
    plain clone, and the time from the commit's return until its record
    (the note) is written, medians of 5 rounds."""
    image = "nexus-test/busybox:latest"
    work, env, repo = bench_home(47398)
    pid = None
    mcp = None
    try:
        pid = json.loads(run([NEXUS, "daemon", "info", "--json"], env=env, cwd=repo).stdout)["pid"]
        ws = json.loads(run([NEXUS, "workspace", "create", "t", "--image", image, "--json"], env=env, cwd=repo).stdout)
        wt = ws["worktree"]
        g = lambda d, *a: run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *a], cwd=d).stdout
        os.makedirs(f"{wt}/bench", exist_ok=True)
        for i in range(100):
            with open(f"{wt}/bench/f{i:03}.txt", "w") as f:
                f.write("".join(f"line {n} of file {i}\n" for n in range(50)))
        g(wt, "add", "-A")
        g(wt, "commit", "-qm", "100 files")
        plain = f"{work}/plain"
        run(["git", "clone", "-q", "--branch", "nexus/t", repo, plain])
        common = g(wt, "rev-parse", "--git-common-dir").strip()
        notes = os.path.join(wt, common, "refs/notes/agent-trace") if not os.path.isabs(common) else f"{common}/refs/notes/agent-trace"
        mcp = subprocess.Popen([NEXUS, "mcp", "--workspace", "t", "--model", "bench/model-1"], env=env, cwd=repo,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ids = iter(range(1, 1000))

        def rpc(method, params, notify=False):
            msg = {"jsonrpc": "2.0", "method": method, "params": params}
            if not notify:
                msg["id"] = next(ids)
            mcp.stdin.write(json.dumps(msg) + "\n")
            mcp.stdin.flush()
            if not notify:
                while True:
                    answer = json.loads(mcp.stdout.readline())
                    if answer.get("id") == msg["id"]:
                        return answer

        rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "bench-agent", "version": "1"}})
        rpc("notifications/initialized", {}, notify=True)
        traced, peer, record = [], [], []
        for r in range(5):
            # the agent appends to every file, the person edits half, the agent again
            rpc("tools/call", {"name": "exec", "arguments": {
                "command": f"for f in bench/*.txt; do echo 'agent {r}' >> $f; done"}})
            for i in range(0, 100, 2):
                with open(f"{wt}/bench/f{i:03}.txt", "a") as f:
                    f.write(f"person {r}\n")
            rpc("tools/call", {"name": "exec", "arguments": {
                "command": f"for f in bench/*.txt; do sed -i '1s/.*/agent rewrote {r}/' $f; done"}})
            for i in range(100):
                shutil.copyfile(f"{wt}/bench/f{i:03}.txt", f"{plain}/bench/f{i:03}.txt")
            before = os.stat(notes).st_mtime_ns if os.path.exists(notes) else 0
            t = time.perf_counter()
            g(wt, "commit", "-qam", f"round {r}")
            done = time.perf_counter()
            traced.append(done - t)
            while not os.path.exists(notes) or os.stat(notes).st_mtime_ns == before:
                time.sleep(0.0005)
            record.append(time.perf_counter() - done)
            peer.append(timed(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qam", f"round {r}"],
                              cwd=plain))
        files = json.loads(run([NEXUS, "trace", "show", "--json", "--dir", wt], env=env).stdout)["files"]
        assert len(files) == 100, files
        med = statistics.median
        print("a commit of 100 changed files (50-55 lines each), written by an agent through MCP and a person in turns")
        print("| | median of 5 | goal |")
        print("| --- | --- | --- |")
        print(f"| `git commit` in the traced workspace | {med(traced)*1000:.1f} ms | |")
        print(f"| `git commit` of the same change in a plain clone | {med(peer)*1000:.1f} ms | |")
        print(f"| the commit's return until its Agent Trace note is written | {med(record)*1000:.1f} ms | ≤ 50 ms |")
        print(f"| recording added to the commit (traced + note - plain) | "
              f"{(med(traced) + med(record) - med(peer))*1000:.1f} ms | ≤ 50 ms |")
    finally:
        if mcp:
            mcp.kill()
        tear_down(pid, work, daemon_label(work))


def idle_bench():
    """Waking a sleeping workspace with plain `ssh … true`: the first
    connection to a paused and to a stopped workspace beside one to an awake
    workspace, medians of 5; beside them plain Docker's `docker unpause` /
    `docker start` + `docker exec true` of the same image."""
    image = "nexus-test/busybox:latest"
    work, env, repo = bench_home(47399)
    pid = None
    try:
        pid = json.loads(run([NEXUS, "daemon", "info", "--json"], env=env, cwd=repo).stdout)["pid"]
        made = {}
        for name, flags in (("awake", []), ("napper", ["--idle-pause", "1s"]), ("sleeper", ["--idle-stop", "1s"])):
            made[name] = json.loads(run([NEXUS, "workspace", "create", name, "--image", image, "--json", *flags],
                                        env=env, cwd=repo).stdout)
        key = f"{work}/home/.ssh/id_ed25519"

        def ssh_true(ws):
            return timed(["ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", str(ws["sshPort"]),
                          f"{ws['remoteUser']}@127.0.0.1", "true"])

        def wait_state(name, want):
            for _ in range(600):
                w = json.loads(run([NEXUS, "workspace", "show", name, "--json"], env=env, cwd=repo).stdout)
                if w["state"] == want:
                    return
                time.sleep(0.05)
            raise RuntimeError(f"{name} never became {want}")

        awake, paused, stopped = [], [], []
        for _ in range(5):
            awake.append(ssh_true(made["awake"]))
            wait_state("napper", "paused")
            paused.append(ssh_true(made["napper"]))
            wait_state("sleeper", "stopped")
            stopped.append(ssh_true(made["sleeper"]))
        cid = run(["docker", "run", "-d", "--label", LABEL, "--entrypoint", "sleep", image, "infinity"]).stdout.strip()
        unpause, start = [], []
        for _ in range(5):
            run(["docker", "pause", cid])
            t = time.perf_counter()
            run(["docker", "unpause", cid])
            run(["docker", "exec", cid, "true"])
            unpause.append(time.perf_counter() - t)
            run(["docker", "stop", "-t", "0", cid])
            t = time.perf_counter()
            run(["docker", "start", cid])
            run(["docker", "exec", cid, "true"])
            start.append(time.perf_counter() - t)
        run(["docker", "rm", "-f", cid])
        med = statistics.median
        a = med(awake)
        print("first `ssh … true` through the workspace's port, medians of 5")
        print("| | nexus | added to an awake workspace's | plain Docker | goal |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| awake | {a*1000:.0f} ms | | | |")
        print(f"| paused (idle) | {med(paused)*1000:.0f} ms | {(med(paused)-a)*1000:.0f} ms | "
              f"`docker unpause` + `docker exec true`: {med(unpause)*1000:.0f} ms | added ≤ 100 ms |")
        print(f"| stopped (idle) | {med(stopped)*1000:.0f} ms | {(med(stopped)-a)*1000:.0f} ms | "
              f"`docker start` + `docker exec true`: {med(start)*1000:.0f} ms | added ≤ 1000 ms |")
    finally:
        tear_down(pid, work, daemon_label(work))
        left = run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"]).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)


def docker_bench():
    """Docker inside a workspace through its proxy (`--docker proxy`) beside
    the same Docker CLI in a plain container with the host's socket mounted
    (what the devcontainers docker-outside-of-docker feature does), same
    image, same engine: `docker version`, `docker ps` and
    `docker run --rm busybox true`, medians of 10, timed inside."""
    subprocess.run(["bash", f"{ROOT}/scripts/images.sh", "docker"], check=True)
    image, busybox = "nexus-test/docker:bookworm", "nexus-test/busybox:latest"
    work, env, repo = bench_home(47403)
    pid = None
    script = (
        "t() { s=$(date +%s%N); \"$@\" >/dev/null 2>&1 || echo failed >&2; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }; "
        "for i in $(seq 10); do "
        "echo version $(t docker version); echo ps $(t docker ps); "
        f"echo run $(t docker run --rm {busybox} true); done"
    )

    def medians(out):
        by = {}
        for line in out.splitlines():
            what, us = line.split()
            by.setdefault(what, []).append(int(us) / 1000)
        return {k: statistics.median(v) for k, v in by.items()}

    try:
        pid = json.loads(run([NEXUS, "daemon", "info", "--json"], env=env, cwd=repo).stdout)["pid"]
        run([NEXUS, "workspace", "create", "dood", "--image", image, "--docker", "proxy"], env=env, cwd=repo)
        peer = run(["docker", "run", "-d", "--label", LABEL, "-v", "/var/run/docker.sock:/var/run/docker.sock",
                    "--entrypoint", "sleep", image, "infinity"]).stdout.strip()
        ours = medians(run([NEXUS, "workspace", "exec", "dood", "--", "sh", "-c", script], env=env, cwd=repo).stdout)
        theirs = medians(run(["docker", "exec", peer, "sh", "-c", script]).stdout)
        run(["docker", "rm", "-f", peer])
        print("Docker inside a workspace, medians of 10, timed inside the container")
        print("| command | nexus --docker proxy | host socket mounted (docker-outside-of-docker) | added |")
        print("| --- | --- | --- | --- |")
        for what, label in (("version", "`docker version`"), ("ps", "`docker ps`"),
                            ("run", "`docker run --rm busybox true`")):
            print(f"| {label} | {ours[what]:.1f} ms | {theirs[what]:.1f} ms | {ours[what] - theirs[what]:+.1f} ms |")
    finally:
        # the workspace's removal takes what it made through its proxy
        subprocess.run([NEXUS, "workspace", "rm", "dood", "--force"], env=env, cwd=repo, capture_output=True)
        tear_down(pid, work, daemon_label(work))
        left = run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"]).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)


def daemon_label(work):
    """The label filter of the containers of the bench daemon of `work`."""
    try:
        return "dev.nexus.daemon=" + open(f"{work}/data/daemon_id").read().strip()
    except OSError:
        return None


def dashboard_bench():
    """The dashboard's budgets with N = 50 running busybox workspaces
    (NEXUS_BENCH_DASHBOARD sets N): brotli bytes of what `/` and a
    workspace page load, the cold load of `/` until all N rows are drawn
    (median of 5, and with the browser's CPU throttled 4×), and the
    daemon's CPU over 30 s with the overview open beside the same 30 s
    without a browser. No peer runs here (Coder's and Portainer's images
    cannot be pulled): the issue's budgets stand beside our figures."""
    from concurrent.futures import ThreadPoolExecutor
    image = "nexus-test/busybox:latest"
    n = int(os.environ.get("NEXUS_BENCH_DASHBOARD", "50"))
    port = 47395
    work, env, repo = bench_home(port)
    nexus = lambda *a: [NEXUS, *a]
    daemon_pid = None
    try:
        daemon_pid = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)["pid"]
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda i: subprocess.run(nexus("workspace", "create", f"d{i}", "--image", image),
                                                          env=env, cwd=repo, capture_output=True).returncode == 0,
                                 range(n)))
        print(f"{made.count(True)} of {n} workspaces running", file=sys.stderr)
        daemon_only = ("nexusd",)
        quiet = idle_cpu(commands=daemon_only)[1]
        link = run(nexus("dashboard", "--no-open"), env=env, cwd=repo).stdout.strip()
        browser = subprocess.Popen(["node", "bench/dashboard.mjs", f"http://127.0.0.1:{port}", link, str(n), "d0"],
                                   cwd=os.path.join(ROOT, "web"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        figures = json.loads(browser.stdout.readline())
        assert browser.stdout.readline().strip() == "open"
        watched = idle_cpu(commands=daemon_only)[1]
        browser.stdin.write("done\n")
        browser.stdin.flush()
        browser.wait()
        print(f"dashboard with {n} running workspaces ({PROFILE} build)          ours        budget")
        print(f"  brotli bytes, everything / loads                {figures['overviewBytes'] / 1024:7.1f} kB     80 kB")
        print(f"  brotli bytes, a workspace page (terminal+charts) {figures['workspaceBytes'] / 1024:6.1f} kB    200 kB")
        print(f"  cold load of /, {n} rows drawn (median of 5)      {figures['overviewMs']:7d} ms   1000 ms")
        print(f"  the same, CPU throttled 4x                       {figures['throttledMs']:7d} ms   2000 ms")
        print(f"  a workspace page until terminal and charts       {figures['workspaceMs']:7d} ms")
        print(f"  nexusd CPU, overview open (30 s)                 {watched:7.2f} %     (without a browser {quiet:.2f} %)")
        print(f"  nexusd extra CPU with the overview open          {watched - quiet:7.2f} %      5 % of one core")
    finally:
        if daemon_pid:
            names = [f"d{i}" for i in range(n)]
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda nm: subprocess.run(nexus("workspace", "rm", nm, "--force", "--delete-branch"),
                                                        env=env, cwd=repo, capture_output=True), names))
        tear_down(daemon_pid, work, daemon_label(work))


def main():
    if MODE == "dashboard":
        return dashboard_bench()
    if MODE == "docker":
        return docker_bench()
    if MODE == "idle":
        return idle_bench()
    if MODE == "trace":
        return trace_bench()
    if MODE == "shadow":
        return shadow_bench()
    if MODE == "mcp":
        return mcp_bench()
    if MODE == "update":
        return update_bench()
    if MODE == "team":
        return team_bench()
    if MODE == "checkpoint":
        return checkpoint_bench()
    if MODE == "ssh":
        return ssh_bench()
    if MODE == "devcontainer":
        return devcontainer_bench()
    if MODE == "api":
        return api_bench()
    if MODE == "scale":
        return scale_bench()
    work, env, repo = bench_home(47391)
    nexus = lambda *a: [NEXUS, *a]
    daemon_pid = None
    try:
        info = json.loads(run(nexus("daemon", "info", "--json"), env=env, cwd=repo).stdout)
        daemon_pid = info["pid"]

        # create until SSH answers, beside docker run -d + first docker exec
        ours, theirs = [], []
        for i in range(ROUNDS_CREATE):
            ours.append(timed(nexus("workspace", "create", f"b{i}", "--image", IMAGE), env=env, cwd=repo))
            run(nexus("workspace", "rm", f"b{i}", "--force", "--delete-branch"), env=env, cwd=repo)
            t = time.perf_counter()
            cid = run(["docker", "run", "-d", "--label", LABEL, "--entrypoint", "sleep", IMAGE, "infinity"]).stdout.strip()
            run(["docker", "exec", cid, "true"])
            theirs.append(time.perf_counter() - t)
            run(["docker", "rm", "-f", cid])
        c_ours, c_theirs = statistics.median(ours), statistics.median(theirs)

        # exec of `true`, median of 20
        run(nexus("workspace", "create", "bexec", "--image", IMAGE), env=env, cwd=repo)
        cid = run(["docker", "run", "-d", "--label", LABEL, "--entrypoint", "sleep", IMAGE, "infinity"]).stdout.strip()
        e_ours = statistics.median(
            timed(nexus("workspace", "exec", "bexec", "--", "true"), env=env, cwd=repo) for _ in range(ROUNDS_EXEC)
        )
        e_theirs = statistics.median(timed(["docker", "exec", cid, "true"]) for _ in range(ROUNDS_EXEC))
        run(["docker", "rm", "-f", cid])

        # memory with 20 running workspaces
        for i in range(19):
            run(nexus("workspace", "create", f"m{i}", "--image", IMAGE), env=env, cwd=repo)
        for _ in range(3):  # exec in each so every pooled connection is open
            for name in ["bexec"] + [f"m{i}" for i in range(19)]:
                run(nexus("workspace", "exec", name, "--", "true"), env=env, cwd=repo)
        daemon_rss = rss_kib(daemon_pid)
        ws = json.loads(run(nexus("workspace", "show", "m0", "--json"), env=env, cwd=repo).stdout)
        agent_pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", f"nexus-m0-{ws['id'][:8]}"]).stdout.strip()
        agent_rss = rss_kib(int(agent_pid))

        print(f"image: {IMAGE}")
        print(f"{'figure':52} {'nexus':>10} {'peer':>10}  goal")
        print(f"{'create until SSH answers / docker run -d + exec (s)':52} {c_ours:10.3f} {c_theirs:10.3f}  nexus <= peer + 0.5")
        print(f"{'exec true, median of 20 (ms)':52} {e_ours*1000:10.1f} {e_theirs*1000:10.1f}  nexus <= 0.5 x peer")
        print(f"{'nexusd RSS, 20 running workspaces (MiB)':52} {daemon_rss/1024:10.1f} {'':>10}  <= 60")
        print(f"{'idle agent RSS (MiB)':52} {agent_rss/1024:10.1f} {'':>10}  <= 8")
    finally:
        for name in ["bexec"] + [f"m{i}" for i in range(19)] + [f"b{i}" for i in range(ROUNDS_CREATE)]:
            subprocess.run(nexus("workspace", "rm", name, "--force", "--delete-branch"), env=env, cwd=repo, capture_output=True)
        tear_down(daemon_pid, work, LABEL)


if __name__ == "__main__":
    main()
