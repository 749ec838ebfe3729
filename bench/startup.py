#!/usr/bin/env python3
"""Start-up timing for bench/run.sh and bench/footprint.sh (loopback only).

  startup.py listen PORT LOGFILE DEADLINE_S FD_LIMIT -- CMD...
      Starts CMD (stdout and stderr to LOGFILE, open-file limit FD_LIMIT) and polls 127.0.0.1:PORT with a TCP
      connect every 2 ms until one is accepted, or DEADLINE_S passes, or CMD exits. Prints "PID MS": the child's PID
      (left running: the caller stops it by PID) and the milliseconds from just before the exec to the first accepted
      connect ("null" if none). Exits 0 when it listened, 1 otherwise.
  startup.py echo PORT
      An echo server on 127.0.0.1:PORT (runs until killed).
  startup.py warm PORT N
      Opens N connections to 127.0.0.1:PORT one after the other, sends 16 bytes on each and waits for them to come
      back (10 s each), closes them; prints how many echoed. Exits 1 unless all did.
  startup.py run DEADLINE_S -- CMD...
      Runs CMD to completion (output discarded) and prints the milliseconds from just before the exec to its exit,
      or "null" if it failed or ran past DEADLINE_S (then it is killed).
"""
import resource
import socket
import subprocess
import sys
import time


def listen(port, logfile, deadline_s, fd_limit, cmd):
    def limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    log = open(logfile, "ab")
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limits)
    end = t0 + deadline_s
    while time.monotonic() < end:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            ms = (time.monotonic() - t0) * 1000
            print(child.pid, round(ms, 2))
            return 0
        except OSError:
            pass
        finally:
            s.close()
        if child.poll() is not None:
            break
        time.sleep(0.002)
    print(child.pid, "null")
    return 1


def run(deadline_s, cmd):
    # A blocking wait, killed by a timer at the deadline: Popen.wait(timeout=...) polls with sleeps that double from
    # 0.5 ms up to 50 ms, which rounds every time up to the next step (15.5, 31.5, 63.5, 113.5 ms, ...).
    import threading
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(deadline_s, child.kill)
    timer.start()
    code = child.wait()
    ms = (time.monotonic() - t0) * 1000
    timed_out = not timer.is_alive() and ms >= deadline_s * 1000
    timer.cancel()
    ok = code == 0 and not timed_out
    print(round(ms, 2) if ok else "null")
    return 0 if ok else 1


def echo(port):
    import threading
    server = socket.create_server(("127.0.0.1", port), backlog=128)

    def serve(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def warm(port, n):
    ok = 0
    for _ in range(n):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"0123456789abcdef")
                got = b""
                while len(got) < 16 and (chunk := s.recv(16 - len(got))):
                    got += chunk
                ok += got == b"0123456789abcdef"
        except OSError:
            pass
    print(ok)
    return 0 if ok == n else 1


def main(argv):
    if argv[1:2] == ["echo"] and len(argv) == 3:
        return echo(int(argv[2]))
    if argv[1:2] == ["warm"] and len(argv) == 4:
        return warm(int(argv[2]), int(argv[3]))
    if "--" not in argv:
        sys.exit(__doc__)
    sep = argv.index("--")
    head, cmd = argv[1:sep], argv[sep + 1:]
    if head[:1] == ["listen"] and len(head) == 5 and cmd:
        return listen(int(head[1]), head[2], float(head[3]), int(head[4]), cmd)
    if head[:1] == ["run"] and len(head) == 2 and cmd:
        return run(float(head[1]), cmd)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
