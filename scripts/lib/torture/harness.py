"""Test harness for scripts/torture: start the release binary on 127.0.0.1 with a generated
configuration, generate bounded load, and read the master's memory, descriptors and CPU time
from /proc. Python standard library only."""
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

CONF = """\
{identity}ErrorLog logs/error.log
LogLevel info
CustomLog {access_log} common
PidFile logs/httpd.pid
StartServers {start}
MinSpareServers {min_spare}
MaxSpareServers {max_spare}
MaxRequestWorkers {workers}
Timeout {timeout}
KeepAlive Off
LimitRequestBody 1000
<VirtualHost *:80>
  ServerName default.test
  DocumentRoot www/default
</VirtualHost>
<VirtualHost *:80>
  ServerName alice.test
  DocumentRoot www/alice
</VirtualHost>
"""

INDEX = b"alice index\n"


class Server:
    """One master under test, in its own scratch directory."""

    def __init__(self, binary, name, user=None, nproc=None, extra="", **conf):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix=f"torture-{name}-")
        # Children run as `nobody`: mkdtemp's 0700 would hide the document roots from them.
        os.chmod(self.dir, 0o755)
        for v in ("default", "alice"):
            os.makedirs(os.path.join(self.dir, "www", v))
            with open(os.path.join(self.dir, "www", v, "index.html"), "wb") as f:
                f.write(INDEX if v == "alice" else b"default index\n")
        os.makedirs(os.path.join(self.dir, "logs"))
        self.conf = dict(access_log="logs/access.log", start=4, min_spare=4, max_spare=8,
                         workers=20, timeout=3)
        self.conf.update(conf)
        self.user = user
        self.nproc = nproc
        self.extra = extra  # directives appended to every configuration written
        self.proc = None
        self.port = None

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write_conf(self, extra=""):
        # A root master must name the identity its children drop to before reading a byte.
        identity = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 and not self.user else ""
        with open(self.path("httpd.conf"), "w") as f:
            f.write(CONF.format(identity=identity, **self.conf) + self.extra + extra)

    def start(self):
        self.write_conf()
        if self.user:
            shutil.chown(self.dir, self.user)
            for root, dirs, files in os.walk(self.dir):
                for n in dirs + files:
                    shutil.chown(os.path.join(root, n), self.user)
        for _ in range(5):
            self.port = free_port()
            cmd = [self.binary, "-f", self.path("httpd.conf"), "-c", f"Listen 127.0.0.1:{self.port}"]
            if self.user:
                gid = pwd.getpwnam(self.user).pw_gid
                cmd = ["setpriv", f"--reuid={self.user}", f"--regid={gid}",
                       "--clear-groups", "--"] + cmd
            if self.nproc:
                cmd = ["prlimit", f"--nproc={self.nproc}:{self.nproc}", "--"] + cmd
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"server did not start; see {self.path('logs/error.log')}")

    def wait_ready(self):
        """Ready once the master has logged that it listens and has forked its first children.
        Probing with a connection would hold a child slot for Timeout seconds."""
        until = time.time() + 10
        while time.time() < until:
            if self.proc.poll() is not None:
                return False
            if "listening on" in self.error_log() and len(self.children()) >= 1:
                return True
            time.sleep(0.02)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def error_log(self):
        try:
            with open(self.path("logs/error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def children(self):
        return children_of(self.pid)

    def stats(self):
        """(RSS in KiB, open descriptors, CPU seconds) of the master."""
        with open(f"/proc/{self.pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE_KB
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        return rss, fds, cpu_seconds(self.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(ppid):
    """Live children of `ppid`: the kernel's own list when it has one (fast enough to pick
    victims under load), else a scan of /proc."""
    try:
        with open(f"/proc/{ppid}/task/{ppid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        pass
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                rest = f.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(rest[1]) == ppid and rest[0] != "Z":
            out.append(int(e))
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(") ", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def get(port, host="alice.test", path="/", timeout=10.0):
    """One request on its own connection. Returns (ok, seconds, why)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return False, time.monotonic() - t0, f"{type(e).__name__}: {e}"
    dt = time.monotonic() - t0
    if not data.startswith(b"HTTP/1.1 200 ") or not data.endswith(b"\r\n\r\n" + INDEX):
        return False, dt, f"bad answer {data[:40]!r}"
    return True, dt, ""


class Load:
    """Bounded closed-loop load: `threads` clients, each one request at a time, until
    `duration` seconds pass, `max_requests` are sent, or stop() is called."""

    def __init__(self, port, threads=8, duration=5.0, max_requests=100000, timeout=10.0):
        self.port, self.threads, self.duration, self.max = port, threads, duration, max_requests
        self.timeout = timeout
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies = []
        self.failures = []
        self._stop = threading.Event()
        self._workers = []

    def _run(self):
        deadline = time.monotonic() + self.duration
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self.lock:
                if self.sent >= self.max:
                    return
                self.sent += 1
            ok, dt, why = get(self.port, timeout=self.timeout)
            with self.lock:
                self.latencies.append(dt)
                if not ok:
                    self.failures.append(why)

    def start(self):
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def stop(self):
        self._stop.set()
        return self.join()

    def join(self):
        for w in self._workers:
            w.join()
        return self

    def p99_ms(self):
        return percentile_ms(self.latencies, 0.99)


def percentile_ms(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return 1000 * v[min(len(v) - 1, int(q * len(v)))]


def random_child(server):
    kids = server.children()
    return random.choice(kids) if kids else None


def as_user_sleepers(user, n, seconds):
    """`n` processes owned by `user`, which count against that uid's RLIMIT_NPROC."""
    gid = pwd.getpwnam(user).pw_gid
    return [subprocess.Popen(["setpriv", f"--reuid={user}", f"--regid={gid}", "--clear-groups",
                              "--", "sleep", str(seconds)]) for _ in range(n)]
