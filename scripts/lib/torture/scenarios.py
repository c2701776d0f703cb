"""The torture scenarios. Each returns a Result; none runs longer than its stated bound."""
import asyncio
import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

from harness import Load, Server, as_user_sleepers, get, percentile_ms, random_child


class Result:
    def __init__(self, name):
        self.name, self.status, self.figures, self.problems = name, "PASS", [], []

    def fig(self, **kw):
        for k, v in kw.items():
            self.figures.append(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}")

    def require(self, cond, problem):
        if not cond:
            self.status = "FAIL"
            self.problems.append(problem)

    def skip(self, why):
        self.status = "SKIP"
        self.problems.append(why)
        return self

    def load_figures(self, load, before, after):
        self.fig(sent=load.sent, failed=len(load.failures), p99_ms=load.p99_ms(),
                 rss_kb=f"{before[0]}->{after[0]}", fds=f"{before[1]}->{after[1]}")

    def line(self):
        tail = f" [{'; '.join(self.problems)}]" if self.problems else ""
        return f"{self.name}: {self.status} {' '.join(self.figures)}{tail}"


def warm_up(srv, seconds=1.0):
    """Lets the master's allocator and pool reach steady state before 'before' is measured."""
    Load(srv.port, threads=4, duration=seconds).start().join()
    time.sleep(0.5)


def flat(res, before, after, rss_slack_kb=512):
    res.require(after[0] <= before[0] + rss_slack_kb, f"master RSS grew {before[0]}->{after[0]} KiB")
    res.require(after[1] <= before[1], f"master fds grew {before[1]}->{after[1]}")


# ---------------------------------------------------------------- slow clients

async def _trickler(port, stop_at, counts, holds):
    """One slowloris client: a header byte per second, reconnecting when the server hangs up.
    `holds` collects how long the server let each connection hold its slot."""
    payload = b"GET / HTTP/1.1\r\nHost: alice.test\r\nX-Slow: " + b"a" * 4000
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (OSError, asyncio.TimeoutError):
            counts["connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        counts["connections"] += 1
        t0 = loop.time()
        try:
            for i in range(len(payload)):
                if loop.time() >= stop_at:
                    break
                w.write(payload[i:i + 1])
                await w.drain()
                try:
                    data = await asyncio.wait_for(r.read(4096), 1.0)
                except asyncio.TimeoutError:
                    continue
                if data.startswith(b"HTTP/1.1 408"):
                    counts["got_408"] += 1
                    holds.append(loop.time() - t0)
                elif not data:
                    counts["closed"] += 1
                break
        except OSError:
            counts["reset"] += 1
        finally:
            w.close()


def _run_tricklers(port, n, seconds, counts, holds):
    async def main():
        stop_at = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(_trickler(port, stop_at, counts, holds) for _ in range(n)))
    asyncio.run(main())


def _good_client(port, seconds, timeout, latencies, failures):
    """A well-behaved client, one request every 0.5 s while the slow ones hold the server."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ok, dt, why = get(port, timeout=timeout)
        latencies.append(dt)
        if not ok:
            failures.append(why)
        time.sleep(0.5)


def slow_clients(binary, name, n, workers, timeout, seconds, reqtimeout=None):
    """`n` trickling clients against `workers` child slots, with a good client in between. The
    good client must be served within Timeout whether or not every slot is held: a free slot
    serves it at once; with every slot held the master reclaims the oldest trickling heads.
    With `reqtimeout` (a RequestReadTimeout value) each trickler must lose its slot within the
    header phase's initial timeout (it sends far less than MinRate), well before Timeout."""
    res = Result(name)
    extra = f"RequestReadTimeout {reqtimeout}\n" if reqtimeout else ""
    srv = Server(binary, name, workers=workers, timeout=timeout, start=4, min_spare=4,
                 max_spare=16, extra=extra).start()
    try:
        before = srv.stats()
        counts = dict(connections=0, got_408=0, closed=0, reset=0, connect_failed=0)
        holds = []
        t = threading.Thread(target=_run_tricklers, args=(srv.port, n, seconds, counts, holds))
        t.start()
        time.sleep(min(2.0, seconds / 4))  # let the slow clients take their slots first
        lat, fails = [], []
        # The good client gives up at 3x Timeout, so a failure to be served in time shows as a
        # figure rather than a hang.
        _good_client(srv.port, seconds - 2, 3 * timeout, lat, fails)
        t.join()
        after = srv.stats()
        worst = max(lat) if lat else float("nan")
        res.fig(slow=n, workers=workers, Timeout=f"{timeout}s", good_sent=len(lat),
                good_failed=len(fails), good_p99_ms=percentile_ms(lat, 0.99),
                good_max_s=worst, within_Timeout="yes" if worst <= timeout else "no",
                slow_conns=counts["connections"], slow_408=counts["got_408"],
                slow_closed=counts["closed"], slow_resets=counts["reset"],
                slow_hold_p50_s=percentile_ms(holds, 0.5) / 1000,
                slow_hold_max_s=(max(holds) if holds else float("nan")),
                rss_kb=f"{before[0]}->{after[0]}", fds=f"{before[1]}->{after[1]}")
        res.require(srv.alive(), "master died")
        res.require(lat and not fails, f"good client failed: {fails[:3]}")
        res.require(counts["got_408"] > 0, "no slow client was timed out with 408")
        res.require(worst <= timeout, f"good client waited {worst:.1f}s > Timeout {timeout}s")
        if reqtimeout:
            initial = int(reqtimeout.split("=")[1].split("-")[0].split(",")[0])
            # A trickler is read every second, so it learns of the 408 up to a second late.
            res.require(holds and max(holds) <= initial + 1.5,
                        f"a trickler held its slot {max(holds or [0]):.1f}s > header={initial}s")
        flat(res, before, after)
    finally:
        srv.cleanup()
    return res


# ---------------------------------------------------------------- children killed

def kill_children(binary, seconds):
    res = Result("kill-children")
    srv = Server(binary, "kill", workers=20, start=4, min_spare=4, max_spare=8).start()
    try:
        warm_up(srv)
        before = srv.stats()
        load = Load(srv.port, threads=6, duration=seconds).start()
        kills = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pid = random_child(srv)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        load.join()
        time.sleep(2.5)  # reaped within a second, then refilled to MinSpareServers
        after = srv.stats()
        res.load_figures(load, before, after)
        res.fig(kills=kills, pool_after=len(srv.children()))
        res.require(srv.alive(), "master died")
        res.require(len(load.failures) <= kills, f"{len(load.failures)} failures for {kills} kills")
        res.require(len(srv.children()) >= 4, "pool did not refill to MinSpareServers")
        res.require(get(srv.port)[0], "not serving after the kills")
        flat(res, before, after)
    finally:
        srv.cleanup()
    return res


# ---------------------------------------------------------------- verifier killed

def _status(port, path, auth, timeout=10.0):
    """One request with Basic credentials `auth` ("user:password"); returns (status, seconds),
    status 0 when the connection failed."""
    t0 = time.monotonic()
    cred = base64.b64encode(auth.encode()).decode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: alice.test\r\nAuthorization: Basic {cred}\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return 0, time.monotonic() - t0
    try:
        return int(data.split(b" ", 2)[1]), time.monotonic() - t0
    except (IndexError, ValueError):
        return 0, time.monotonic() - t0


def verifier_killed(binary, seconds):
    """Authenticated load (good and wrong passwords) while the password verifier is SIGKILLed
    every 1.5 s: a good password gets 200 or, while the verifier is down, 503; a wrong one
    never 200; the master restarts the verifier each time."""
    res = Result("verifier-killed")
    srv = Server(binary, "verifier", extra=(
        "<Location /private>\n  AuthType Basic\n  AuthName t\n  AuthUserFile users\n"
        "  Require valid-user\n</Location>\n"))
    os.makedirs(srv.path("www", "alice", "private"))
    with open(srv.path("www", "alice", "private", "index.html"), "wb") as f:
        f.write(b"private\n")
    with open(srv.path("users"), "w") as f:
        # {SHA} keeps the verifier's CPU out of the measurement; bcrypt is tested elsewhere.
        f.write("alice:{SHA}" + base64.b64encode(hashlib.sha1(b"alice-pw").digest()).decode() + "\n")
    try:
        srv.start()
        started = re.compile(r"password verifier started as pid (\d+)")
        lock = threading.Lock()
        good, bad, lat = {}, {}, []
        stop_at = time.monotonic() + seconds

        def client(auth, into):
            while time.monotonic() < stop_at:
                st, dt = _status(srv.port, "/private/", auth)
                with lock:
                    into[st] = into.get(st, 0) + 1
                    lat.append(dt)

        warm_up(srv)
        before = srv.stats()
        threads = [threading.Thread(target=client, args=("alice:alice-pw", good)) for _ in range(3)]
        threads.append(threading.Thread(target=client, args=("alice:wrong", bad)))
        for t in threads:
            t.start()
        kills = 0
        while time.monotonic() < stop_at - 1.5:
            time.sleep(1.5)
            pids = started.findall(srv.error_log())
            if pids:
                try:
                    os.kill(int(pids[-1]), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        for t in threads:
            t.join()
        time.sleep(1.5)  # the last restart (at most one per second)
        final, _ = _status(srv.port, "/private/", "alice:alice-pw")
        after = srv.stats()
        restarts = len(started.findall(srv.error_log())) - 1
        sent = sum(good.values()) + sum(bad.values())
        res.fig(sent=sent, good_200=good.get(200, 0), good_503=good.get(503, 0),
                good_other=sum(v for k, v in good.items() if k not in (200, 503)),
                bad_401=bad.get(401, 0), bad_503=bad.get(503, 0), bad_200=bad.get(200, 0), kills=kills, restarts=restarts,
                p99_ms=percentile_ms(lat, 0.99), rss_kb=f"{before[0]}->{after[0]}",
                fds=f"{before[1]}->{after[1]}")
        res.require(srv.alive(), "master died")
        res.require(bad.get(200, 0) == 0, "a wrong password got 200")
        res.require(set(good) <= {200, 503}, f"good password got {good}")
        res.require(set(bad) <= {401, 503}, f"wrong password got {bad}")
        res.require(good.get(503, 0) > 0, "the verifier was never seen down: no 503")
        res.require(good.get(200, 0) > 0, "the good password never got 200")
        res.require(restarts >= kills, f"{restarts} restarts for {kills} kills")
        res.require(final == 200, f"after the last restart a good password got {final}")
        flat(res, before, after)
    finally:
        srv.cleanup()
    return res


# ---------------------------------------------------------------- fork failing

def fork_failing(binary, fail_seconds):
    """RLIMIT_NPROC counts every process of the uid, and root cannot change another uid's
    limits here (no CAP_SYS_RESOURCE), so the master runs as `nobody` under a limit of NPROC
    and `nobody`-owned sleepers fill that quota for the failure window, then go away."""
    res = Result("fork-failing")
    nproc = 8
    srv = Server(binary, "fork", user="nobody", nproc=nproc, workers=4, start=2, min_spare=2,
                 max_spare=4)
    try:
        srv.start()
    except RuntimeError as e:
        srv.cleanup()
        return res.skip(f"cannot run the server unprivileged: {e}")
    sleepers = []
    try:
        warm_up(srv)
        before = srv.stats()
        sleepers = as_user_sleepers("nobody", nproc, fail_seconds + 30)
        time.sleep(0.2)
        # Requests sent while fork fails wait in the backlog until it works again: not lost.
        load = Load(srv.port, threads=2, duration=fail_seconds, timeout=fail_seconds + 15).start()
        time.sleep(fail_seconds)
        cpu_window = srv.stats()[2] - before[2]
        failed_at_all = "fork failed" in srv.error_log()
        for p in sleepers:
            p.kill()
            p.wait()
        t_restore = time.monotonic()
        load.join()
        ok, _, why = get(srv.port, timeout=15)
        recovered_s = time.monotonic() - t_restore
        time.sleep(1)
        after = srv.stats()
        log = srv.error_log()
        fork_errors = log.count("fork failed")
        res.load_figures(load, before, after)
        res.fig(fail_window_s=float(fail_seconds), master_cpu_in_window_s=cpu_window,
                fork_failed_logged=fork_errors, recovered_in_s=recovered_s,
                fork_works_again_logged="fork works again" in log)
        res.require(srv.alive(), "master exited")
        res.require(failed_at_all, "fork never failed: the NPROC quota was not filled")
        res.require(fork_errors <= 3, f"fork failure logged {fork_errors} times (should be once per streak)")
        res.require(cpu_window < 0.1 * fail_seconds, f"master used {cpu_window:.2f}s CPU: busy loop?")
        res.require(ok, f"no recovery after fork works again: {why}")
        res.require(not load.failures, f"requests lost: {load.failures[:3]}")
        flat(res, before, after)
    finally:
        for p in sleepers:
            if p.poll() is None:
                p.kill()
                p.wait()
        srv.cleanup()
    return res


# ---------------------------------------------------------------- full disk

def full_disk(binary, requests):
    """The access log on a full filesystem (a 64 KiB tmpfs filled up; /dev/full when tmpfs
    cannot be mounted), then room again: serving never stops, the error log says once that
    the log fails and once that it works again."""
    res = Result("log-full-disk")
    srv = Server(binary, "disk", access_log="small/access.log", workers=20)
    small = srv.path("small")
    os.makedirs(small)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", small],
                             capture_output=True).returncode == 0
    if not mounted:
        os.symlink("/dev/full", os.path.join(small, "access.log"))
    try:
        srv.start()
        filler = os.path.join(small, "filler")
        if mounted:
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fd, b"x" * 512)
            except OSError:
                pass  # full
            finally:
                os.close(fd)
        before = srv.stats()
        load = Load(srv.port, threads=4, duration=30, max_requests=requests).start().join()
        time.sleep(0.5)
        failing = srv.error_log().count("CustomLog #1: write failed")
        recovered = 0
        if mounted:
            os.remove(filler)
            more = Load(srv.port, threads=4, duration=30, max_requests=requests // 4).start().join()
            load.sent += more.sent
            load.failures += more.failures
            load.latencies += more.latencies
            time.sleep(0.5)
            recovered = srv.error_log().count("CustomLog #1: writes work again")
        after = srv.stats()
        res.load_figures(load, before, after)
        res.fig(log_failure_reports=failing, recovery_reports=recovered,
                filesystem="tmpfs-64k" if mounted else "/dev/full")
        res.require(srv.alive(), "master died")
        res.require(not load.failures, f"serving stopped: {load.failures[:3]}")
        res.require(failing == 1, f"the write error was reported {failing} times, not once")
        if mounted:
            res.require(recovered == 1, f"the recovery was reported {recovered} times, not once")
        flat(res, before, after)
    finally:
        srv.stop()
        if mounted:
            subprocess.run(["umount", small], capture_output=True)
        srv.cleanup()
    return res


# ---------------------------------------------------------------- reload under load

def reload_under_load(binary, seconds):
    res = Result("reload-under-load")
    srv = Server(binary, "reload", workers=20).start()
    try:
        warm_up(srv)
        # The first two reloads under load grow the master's heap once, by about 800 KiB, to
        # where the old and the new configuration both fit (measured: flat within 70 KiB over
        # the next 28 reloads). Those warm-up reloads happen before 'before', so what is held
        # against the slack is growth per reload, the thing a leak would show.
        warm = Load(srv.port, threads=6, duration=2.0).start()
        for _ in range(2):
            srv.write_conf()
            srv.signal(signal.SIGHUP)
            time.sleep(0.8)
        warm.join()
        time.sleep(0.5)
        before = srv.stats()
        load = Load(srv.port, threads=6, duration=seconds).start()
        reloads = 2
        step = seconds / 5
        for spare in (6, 10, 8):
            time.sleep(step)
            srv.conf["max_spare"] = spare
            srv.write_conf()
            srv.signal(signal.SIGHUP)
            reloads += 1
        time.sleep(step)
        srv.write_conf("Timeout bogus\n")
        srv.signal(signal.SIGHUP)
        time.sleep(0.5)
        srv.write_conf()
        load.join()
        time.sleep(0.5)
        after = srv.stats()
        log = srv.error_log()
        applied = log.count("reloaded configuration")
        names_line = re.search(re.escape(srv.path("httpd.conf")) + r":\d+", log) is not None
        res.load_figures(load, before, after)
        res.fig(reloads=reloads, applied=applied, bad_reload_names_file_line=names_line)
        res.require(srv.alive(), "master died")
        res.require(not load.failures, f"connections lost: {load.failures[:3]}")
        res.require(applied == reloads, f"{applied} of {reloads} valid reloads applied")
        res.require(names_line, "invalid reload did not name file:line in the error log")
        res.require(get(srv.port)[0], "not serving after the invalid reload")
        flat(res, before, after)
    finally:
        srv.cleanup()
    return res
