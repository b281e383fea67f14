#!/usr/bin/env python3
"""agent-offload benchmarks. Each figure is printed next to a baseline measured in the
same run, on the same machine, as a ratio: shared machines are noisy, ratios less so.

    python3 bench/bench.py            # everything (about a minute)
    python3 bench/bench.py --quick    # fewer rounds, 5 s CPU window
    python3 bench/bench.py headless   # one group: headless | done | closed | cpu | transcript | cost

Groups:
  headless  headless run overhead: agent-offload -H vs the same fake agent run directly,
            outside git and in a git repository (where the change list costs git calls)
  done      tmux: done.md renamed -> agent-offload exits; baseline a 500 ms poll loop
            (the upstream tool's mechanism) waiting for the same file and closing the pane
  closed    tmux: pane killed -> agent-offload exits; baseline a 500 ms poll of
            `tmux list-panes` (the upstream tool never returns here at all)
  cpu       CPU used while waiting on an agent that works for a while, agent-offload (the
            waiting process, its watch helper and the run's guard, with the children they
            collected) vs the 500 ms poll loop that asks tmux about the pane; once with the
            default stall detector (a look every 30 s), once looking every 2 s
  transcript  a pane run's usage beside a 300 MB claude session transcript (100 MB with
            --quick) that the agent appends to: `top --once` reading only what was
            appended since the last look vs reading the whole file (the kept
            transcript-usage.json removed first: what every look cost before it existed);
            then the CPU of the waiting process checking a --max-tokens budget every 5 s
  cost      the fixed cost of one run, whole-process: wall time, CPU (with every process it
            and its helpers start, collected through a child subreaper) and peak RSS, of a
            headless run (outside git) and of a tmux run whose agent publishes at once;
            beside the agent alone and, with AGENT_OFFLOAD_UPSTREAM=PATH, the upstream tool
            (agent-offload 0.1.4 from crates.io), with AGENT_OFFLOAD_BEFORE=PATH another
            build of ours, in the same rounds. Not in the default set.
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
BIN = os.environ.get("AGENT_OFFLOAD_BIN", os.path.join(ROOT, "target/release/agent-offload"))
QUICK = "--quick" in sys.argv
ROUNDS = 8 if QUICK else 25
CPU_WINDOW = 5 if QUICK else 20

PUBLISH = """#!/bin/sh
printf 'summary\\n' >"$AGENT_OFFLOAD_RUN_DIR/done.md.tmp"
mv "$AGENT_OFFLOAD_RUN_DIR/done.md.tmp" "$AGENT_OFFLOAD_RUN_DIR/done.md"
"""

# Waits for a trigger file, records the time, publishes, then stays open like a TUI.
TUI = """#!/bin/sh
d=$AGENT_OFFLOAD_RUN_DIR
while [ ! -e "$d/go" ]; do sleep 0.01; done
printf 'summary\\n' >"$d/done.md.tmp"
date +%s%N >"$d/t_publish"
mv "$d/done.md.tmp" "$d/done.md"
exec sleep 100000
"""

SLEEPER = """#!/bin/sh
: >"$AGENT_OFFLOAD_RUN_DIR/started"
exec sleep 100000
"""


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


class Sandbox:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ao-bench-")
        for d in ("state", "config", "home"):
            os.makedirs(os.path.join(self.dir, d))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.path.join(self.dir, "home"),
            "XDG_STATE_HOME": os.path.join(self.dir, "state"),
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "TERM": "xterm-256color",
        }
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.tmux_started = False

    def agent(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o755)
        return path

    def config(self, command, headless):
        path = os.path.join(self.dir, "config.yaml")
        with open(path, "w") as f:
            f.write(f"profiles:\n  bench:\n    command: {command}\n    headless: {str(headless).lower()}\n")
        return path

    def start_tmux(self):
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", "b",
                        "-x", "240", "-y", "60", "sh"], check=True, env=self.env)
        self.tmux_started = True
        pid = self.tmux("display-message", "-p", "#{pid}")
        self.caller = self.tmux("display-message", "-p", "-t", "b", "#{pane_id}")
        self.env = dict(self.env, TMUX=f"{self.sock},{pid},0", TMUX_PANE=self.caller)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def runs(self):
        root = os.path.join(self.dir, "state/agent-offload/runs")
        return sorted(os.listdir(root)) if os.path.isdir(root) else []

    def close(self):
        if self.tmux_started:
            subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_path(path, limit=10.0):
    end = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {path}")
        time.sleep(0.002)


def newest_run_dir(sb, before):
    end = time.monotonic() + 10
    while True:
        new = [r for r in sb.runs() if r not in before]
        if new:
            return os.path.join(sb.dir, "state/agent-offload/runs", new[0])
        if time.monotonic() > end:
            raise RuntimeError("no run directory appeared")
        time.sleep(0.002)


def ms(ns):
    return ns / 1e6


def report(name, ours, base, unit="ms", base_name="baseline"):
    o, b = statistics.median(ours), statistics.median(base)
    ratio = o / b if b else float("inf")
    print(f"  {name}: median {o:.2f} {unit} (min {min(ours):.2f}, max {max(ours):.2f}); "
          f"{base_name} {b:.2f} {unit}; ratio {ratio:.3f}")


def bench_headless():
    for in_git in (False, True):
        where = "in a git repository of 200 files: the change list adds its snapshots" if in_git \
            else "outside git"
        print(f"headless overhead (agent publishes and exits at once), {where}:")
        sb = Sandbox()
        try:
            agent = sb.agent("agent.sh", PUBLISH)
            cfg = sb.config(agent, True)
            work = os.path.join(sb.dir, "work")
            os.makedirs(work)
            if in_git:
                for n in range(200):
                    with open(os.path.join(work, f"f{n}.txt"), "w") as f:
                        f.write(f"line {n}\n" * 20)
                git = ["git", "-c", "user.name=b", "-c", "user.email=b@x"]
                subprocess.run(git + ["init", "-q"], cwd=work, check=True)
                subprocess.run(git + ["add", "."], cwd=work, check=True)
                subprocess.run(git + ["commit", "-qm", "init"], cwd=work, check=True)
            direct_dir = os.path.join(sb.dir, "direct")
            ours, base = [], []
            for _ in range(ROUNDS):
                os.makedirs(direct_dir, exist_ok=True)
                t = time.perf_counter_ns()
                subprocess.run(["sh", agent, "--", "task"], cwd=work,
                               env=dict(sb.env, AGENT_OFFLOAD_RUN_DIR=direct_dir), check=True)
                base.append(ms(time.perf_counter_ns() - t))
                os.remove(os.path.join(direct_dir, "done.md"))
                t = time.perf_counter_ns()
                subprocess.run([BIN, "--config", cfg, "-H", "task"], cwd=work, env=sb.env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ours.append(ms(time.perf_counter_ns() - t))
            report("agent-offload -H", ours, base, base_name="agent run directly")
            print(f"  overhead: {statistics.median(ours) - statistics.median(base):.2f} ms per run")
        finally:
            sb.close()


def poll_loop(check, interval=0.5):
    """The upstream mechanism: a loop already running, checking every `interval`.
    Returns a thread; join it to learn when the loop noticed."""
    import threading

    t = threading.Thread(target=lambda: [time.sleep(interval) for _ in iter(check, True)])
    t.start()
    return t


def random_phase():
    import random

    time.sleep(random.uniform(0.05, 0.55))


def start_run(sb, cfg, extra=()):
    """Starts agent-offload in the sandbox's tmux server; returns it and its run dir."""
    before = sb.runs()
    p = subprocess.Popen([BIN, "--config", cfg, *extra, "task"], env=sb.env, cwd=sb.dir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, newest_run_dir(sb, before)


def bench_done():
    print("tmux: done.md renamed -> command returns:")
    sb = Sandbox()
    try:
        sb.start_tmux()
        agent = sb.agent("tui.sh", TUI)
        cfg = sb.config(agent, False)
        ours, base = [], []
        for _ in range(ROUNDS):
            p, run_dir = start_run(sb, cfg)
            wait_path(os.path.join(run_dir, "output.log"))
            time.sleep(0.05)
            open(os.path.join(run_dir, "go"), "w").close()
            p.wait()
            t_end = time.time_ns()
            with open(os.path.join(run_dir, "t_publish")) as f:
                ours.append(ms(t_end - int(f.read())))

            # Baseline: the same agent in a pane, watched by a 500 ms poll.
            bdir = tempfile.mkdtemp(dir=sb.dir)
            pane = sb.tmux("split-window", "-d", "-t", sb.caller, "-P", "-F", "#{pane_id}",
                           "-e", f"AGENT_OFFLOAD_RUN_DIR={bdir}", "sh", agent)
            done = os.path.join(bdir, "done.md")
            loop = poll_loop(lambda: os.path.exists(done))
            random_phase()
            open(os.path.join(bdir, "go"), "w").close()
            loop.join()
            subprocess.run(["tmux", "-S", sb.sock, "kill-pane", "-t", pane], capture_output=True)
            t_end = time.time_ns()
            wait_path(os.path.join(bdir, "t_publish"))
            with open(os.path.join(bdir, "t_publish")) as f:
                base.append(ms(t_end - int(f.read())))
        report("agent-offload", ours, base, base_name="500 ms poll")
    finally:
        sb.close()


def bench_closed():
    print("tmux: pane killed -> command returns:")
    sb = Sandbox()
    try:
        sb.start_tmux()
        agent = sb.agent("sleeper.sh", SLEEPER)
        cfg = sb.config(agent, False)
        ours, base = [], []
        for _ in range(ROUNDS):
            p, run_dir = start_run(sb, cfg)
            wait_path(os.path.join(run_dir, "started"))
            pane = None
            while pane is None:
                with open(os.path.join(run_dir, "run.json")) as f:
                    pane = json.load(f).get("pane")
            t = time.time_ns()
            subprocess.run(["tmux", "-S", sb.sock, "kill-pane", "-t", pane], check=True)
            p.wait()
            ours.append(ms(time.time_ns() - t))

            pane = sb.tmux("split-window", "-d", "-t", sb.caller, "-P", "-F", "#{pane_id}", "sleep", "100000")
            # The baseline asks tmux whether the pane still exists every 500 ms.
            def gone(pane=pane):
                panes = subprocess.run(["tmux", "-S", sb.sock, "list-panes", "-a", "-F", "#{pane_id}"],
                                       capture_output=True, text=True).stdout.split()
                return pane not in panes

            loop = poll_loop(gone)
            random_phase()
            t = time.time_ns()
            subprocess.run(["tmux", "-S", sb.sock, "kill-pane", "-t", pane], check=True)
            loop.join()
            base.append(ms(time.time_ns() - t))
        report("agent-offload", ours, base, base_name="500 ms list-panes poll")
    finally:
        sb.close()


def cpu_ns(pid):
    """CPU time of one process, in ns, from the scheduler's own accounting, plus what
    the children it collected used (the tmux clients and `ps` a look starts)."""
    with open(f"/proc/{pid}/schedstat") as f:
        own = int(f.read().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    children_ticks = int(fields[13]) + int(fields[14])  # cutime, cstime (fields 16, 17)
    return own + children_ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def helpers_of(run_dir):
    """agent-offload's own helper processes for a run: `__guard DIR`, and the watch holder
    (`ps` shows it as `agent-offload __watch DIR`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = b" ".join(f.read().split(b"\0"))
                if any(f"{h} {run_dir}".encode() in args for h in ("__watch", "__guard")):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def bench_cpu():
    cpu_window("", ())
    # The stall detector at its most frequent: a look every 2 s (a quarter of 8 s), each
    # a process-table read and a capture of the pane.
    cpu_window(" with --stall-after 8s (a stall look every 2 s)", ("--stall-after", "8s"))


def cpu_window(what, extra):
    print(f"CPU while waiting {CPU_WINDOW} s on a working agent (tmux mode){what}:")
    sb = Sandbox()
    try:
        sb.start_tmux()
        agent = sb.agent("sleeper.sh", SLEEPER)
        cfg = sb.config(agent, False)
        p, run_dir = start_run(sb, cfg, extra)
        wait_path(os.path.join(run_dir, "started"))
        time.sleep(0.2)
        # Everything that watches the run: the waiting process, its watch helper and the
        # run's guard (each names the run directory in its command line).
        watchers = [p.pid] + helpers_of(run_dir)
        c0 = sum(cpu_ns(pid) for pid in watchers)
        time.sleep(CPU_WINDOW)
        ours = sum(cpu_ns(pid) for pid in watchers) - c0
        p.terminate()
        p.wait()

        # Baseline: a poll loop (in sh, as light as it gets) asking tmux every 500 ms.
        pane = sb.tmux("split-window", "-d", "-t", sb.caller, "-P", "-F", "#{pane_id}", "sleep", "100000")
        loop = subprocess.Popen(["sh", "-c", f"while tmux -S '{sb.sock}' list-panes -t '{pane}' >/dev/null; "
                                 f"do [ -e /nonexistent/done.md ] && break; sleep 0.5; done"], env=sb.env)
        t0 = os.times()
        time.sleep(CPU_WINDOW)
        loop.terminate()
        loop.wait()
        t1 = os.times()
        base = ((t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)) * 1e9
        share = ours / (CPU_WINDOW * 1e9) * 100
        print(f"  agent-offload ({len(watchers)} processes): {ms(ours):.2f} ms CPU ({share:.3f} % of one core); "
              f"500 ms poll loop (with its tmux clients): {ms(base):.0f} ms; ratio {ours / base if base else float('inf'):.4f}")
    finally:
        sb.close()


# A claude TUI whose session transcript is a big file made beforehand (hard-linked into
# claude's store under the id it was given), which it then appends a message to every
# second, as a working session does.
CLAUDE_TUI = """#!/bin/sh
prev=; id=
for a in "$@"; do [ "$prev" = --session-id ] && id=$a; prev=$a; done
dir="$HOME/.claude/projects/$(pwd | sed 's/[^A-Za-z0-9]/-/g')"
mkdir -p "$dir"
ln '{big}' "$dir/$id.jsonl"
: >"$AGENT_OFFLOAD_RUN_DIR/started"
n=0
while :; do
  n=$((n + 1))
  printf '{{"type":"assistant","message":{{"id":"new-%s","usage":{{"input_tokens":10,"output_tokens":5}}}}}}\\n' "$n" >>"$dir/$id.jsonl"
  sleep 1
done
"""


def big_transcript(path, size):
    """A claude session of about `size` bytes: turns of a 20 KB tool result and an
    assistant message with its usage."""
    tool = json.dumps({"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "content": "x" * 20_000}]}}) + "\n"
    with open(path, "w") as f:
        written, n = 0, 0
        while written < size:
            n += 1
            msg = json.dumps({"type": "assistant", "timestamp": "2026-01-01T00:00:00Z", "message": {
                "id": f"msg_{n:08d}", "role": "assistant", "usage": {
                    "input_tokens": 10, "cache_read_input_tokens": 1000,
                    "cache_creation_input_tokens": 0, "output_tokens": 5}}}) + "\n"
            f.write(tool)
            f.write(msg)
            written += len(tool) + len(msg)
    return n


def bench_transcript():
    size = (100 if QUICK else 300) * 1024 * 1024
    print(f"a pane run's usage beside a {size >> 20} MB claude transcript:")
    sb = Sandbox()
    try:
        sb.start_tmux()
        big = os.path.join(sb.dir, "big.jsonl")
        messages = big_transcript(big, size)
        agent = sb.agent("claude", CLAUDE_TUI.format(big=big))
        cfg = os.path.join(sb.dir, "config.yaml")
        with open(cfg, "w") as f:
            f.write(f"profiles:\n  bench:\n    command: {agent}\n    interface: claude\n")
        p, run_dir = start_run(sb, cfg, ("--max-tokens", "100000000000"))
        wait_path(os.path.join(run_dir, "started"))
        kept = os.path.join(run_dir, "transcript-usage.json")

        def top():
            t = time.perf_counter_ns()
            out = subprocess.run([BIN, "top", "--once"], env=sb.env, check=True,
                                 capture_output=True, text=True).stdout
            return ms(time.perf_counter_ns() - t), out

        ours, base = [], []
        for _ in range(max(3, ROUNDS // 4)):
            try:
                os.remove(kept)
            except FileNotFoundError:
                pass
            base.append(top()[0])
            time.sleep(0.3)
            ours.append(top()[0])
        print(f"  ({messages} messages; the agent appends one a second)")
        report("top --once, reading what was appended", ours, base,
               base_name="reading the whole transcript")
        watchers = [p.pid]
        c0 = sum(cpu_ns(pid) for pid in watchers)
        time.sleep(CPU_WINDOW)
        used = sum(cpu_ns(pid) for pid in watchers) - c0
        print(f"  the waiting process, checking the budget every 5 s for {CPU_WINDOW} s: "
              f"{ms(used):.1f} ms CPU ({used / (CPU_WINDOW * 1e9) * 100:.3f} % of one core)")
        p.terminate()
        p.wait()
    finally:
        sb.close()


COST_AGENT = """#!/bin/sh
# The run directory from agent-offload, or the done.md path the upstream tool's prompt names.
d=${AGENT_OFFLOAD_RUN_DIR:-$(printf '%s\\n' "$*" | grep -o '/[^ ]*/done\\.md' | head -n 1 | sed 's#/done\\.md$##')}
[ -n "$d" ] || d=$COST_SCRATCH
printf 'summary\\n' >"$d/done.md.tmp"
mv "$d/done.md.tmp" "$d/done.md"
[ -n "$COST_STAY" ] && exec sleep 100000
exit 0
"""


def collect_all():
    """Waits for every descendant (we are their subreaper); returns the CPU they used, ms."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return before, after


def cost_round(argv, env, cwd):
    """One whole run: wall ms, CPU ms (it, its helpers and what they started), peak RSS MB."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # posix_spawn (vfork): a forked copy of Python would count Python's RSS as the child's.
    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    here = os.getcwd()
    os.chdir(cwd)
    try:
        t = time.perf_counter_ns()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=null)
    finally:
        os.chdir(here)
    _, status, ru = os.wait4(pid, 0)
    wall = ms(time.perf_counter_ns() - t)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{argv} exited with {code}")
    _, r1 = collect_all()
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000
    return wall, cpu


def peak_rss(argv, env, cwd):
    """Peak RSS in MB, from GNU time (a small parent: a process exec'd from Python, even
    through vfork, inherits Python's peak as its own); None without /usr/bin/time."""
    if not os.path.exists("/usr/bin/time"):
        return None
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *argv], env=env, cwd=cwd,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        collect_all()
        return int(out.read().split()[-1]) / 1024


def bench_cost():
    import ctypes

    upstream = os.environ.get("AGENT_OFFLOAD_UPSTREAM")
    for tmux, in_git in ((False, False), (False, True), (True, False)):
        sb = Sandbox()
        try:
            scratch = os.path.join(sb.dir, "scratch")
            os.makedirs(scratch)
            # In the environment the tmux server gives its panes, too.
            sb.env = dict(sb.env, COST_SCRATCH=scratch, **({"COST_STAY": "1"} if tmux else {}))
            if tmux:
                sb.start_tmux()  # before becoming a subreaper: the server is not ours to collect
            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
            agent = sb.agent("agent.sh", COST_AGENT)
            env = sb.env
            cwd = sb.dir
            if in_git:
                cwd = os.path.join(sb.dir, "work")
                os.makedirs(cwd)
                for n in range(200):
                    with open(os.path.join(cwd, f"f{n}.txt"), "w") as f:
                        f.write(f"line {n}\n" * 20)
                git = ["git", "-c", "user.name=b", "-c", "user.email=b@x"]
                subprocess.run(git + ["init", "-q"], cwd=cwd, check=True)
                subprocess.run(git + ["add", "."], cwd=cwd, check=True)
                subprocess.run(git + ["commit", "-qm", "init"], cwd=cwd, check=True)
            mode = "true" if not tmux else "false"
            ours_cfg = sb.config(agent, not tmux)
            up_cfg = os.path.join(sb.dir, "upstream.yaml")
            with open(up_cfg, "w") as f:
                f.write(f"default_profile: bench\nprofiles:\n  bench:\n    command: {agent}\n"
                        f"    headless: {mode}\n")
            who = [("agent-offload", [BIN, "--config", ours_cfg, *([] if tmux else ["-H"]), "task"])]
            if os.environ.get("AGENT_OFFLOAD_BEFORE"):
                who.append(("agent-offload (before)", [os.environ["AGENT_OFFLOAD_BEFORE"], *who[0][1][1:]]))
            if upstream:
                who.append(("upstream 0.1.4", [upstream, "--config", up_cfg, *([] if tmux else ["-H"]),
                                               "task"]))
            if not tmux:
                who.append(("the agent alone", ["sh", agent, "--", "task"]))
            got = {name: ([], [], []) for name, _ in who}
            for r in range(ROUNDS):
                for name, argv in who:
                    wall, cpu = cost_round(argv, env, cwd)
                    got[name][0].append(wall)
                    got[name][1].append(cpu)
                    if r < 3:
                        got[name][2].append(peak_rss(argv, env, cwd) or 0)
                    for f in os.listdir(scratch):
                        os.remove(os.path.join(scratch, f))
            where = " in a git repository of 200 files (the change list)" if in_git else ""
            print(f"fixed cost of a {'tmux' if tmux else 'headless'} run{where} (agent publishes at once"
                  f"{', then stays open' if tmux else ' and exits'}), medians of {ROUNDS}:")
            for name, (wall, cpu, rss) in got.items():
                print(f"  {name}: {statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.1f} ms CPU, "
                      f"peak RSS {statistics.median(rss):.1f} MB")
        finally:
            ctypes.CDLL(None).prctl(36, 0, 0, 0, 0)
            sb.close()


def main():
    groups = [a for a in sys.argv[1:] if not a.startswith("-")] or ["headless", "done", "closed", "cpu",
                                                                     "transcript"]
    if "AGENT_OFFLOAD_BIN" not in os.environ:
        build()
    print(f"agent-offload benchmarks ({ROUNDS} rounds{', quick' if QUICK else ''}); binary {BIN}")
    table = {"headless": bench_headless, "done": bench_done, "closed": bench_closed, "cpu": bench_cpu,
             "transcript": bench_transcript, "cost": bench_cost}
    for g in groups:
        table[g]()


if __name__ == "__main__":
    main()
