"""Nexus beside plain Docker, in one run on one image (see scripts/bench.sh).

Prints, for each figure, ours and the peer's:
  create   `nexus workspace create` until SSH answers  vs  `docker run -d` + first `docker exec C true`
  exec     `nexus workspace exec W -- true`            vs  `docker exec C true`        (median of 20)
  memory   RSS of nexusd with 20 running workspaces, and of one idle agent
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
NEXUS = os.path.join(ROOT, "target/release/nexus")
IMAGE = sys.argv[1] if len(sys.argv) > 1 else "nexus/default:bookworm"
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


def main():
    work = tempfile.mkdtemp(prefix="nexus-bench-")
    env = dict(os.environ, NEXUS_DATA_DIR=f"{work}/data", NEXUS_HOST="127.0.0.1:47391", HOME=f"{work}/home")
    os.makedirs(f"{work}/home/.ssh")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{work}/home/.ssh/id_ed25519"])
    repo = f"{work}/repo"
    run(["git", "clone", "-q", ROOT, repo])
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
        left = run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"]).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
        if daemon_pid:
            try:
                os.kill(daemon_pid, 15)
            except ProcessLookupError:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
