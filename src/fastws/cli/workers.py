"""``fastws serve --workers N``: several server processes on one port.

The parent process is a supervisor: it starts N worker processes, each with
an event loop of its own, listening on the same address with
``SO_REUSEPORT`` (Linux: the kernel spreads new connections among them), and
restarts a worker that dies unexpectedly. Ctrl-C or SIGTERM stops every
worker, which closes its connections with 1001 (going away), and the
supervisor exits when they have. A worker whose supervisor dies without
stopping it (SIGKILL) stops the same way by itself (see
``serve._stop_with_the_supervisor``). With ``--redis URL`` the workers share
their topics through Redis (:class:`fastws.pubsub.RedisPubSub`): what one
publishes reaches the subscribers of all.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

__all__ = ["supervise"]

#: A worker that dies within this many seconds of starting is not restarted
#: (the application fails at start: restarting it would only loop).
_MIN_LIFETIME = 2.0


def _worker(args: argparse.Namespace, index: int) -> None:
    """One worker process: the server, on the shared port."""
    from . import serve as serve_command

    # The supervisor handles Ctrl-C for the whole group; a worker stops on
    # the SIGTERM it sends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    args.worker = index
    raise SystemExit(serve_command.run(args))


def supervise(args: argparse.Namespace) -> int:
    """Run ``args.workers`` workers until Ctrl-C or SIGTERM; return the exit status."""
    if not hasattr(socket, "SO_REUSEPORT") or not sys.platform.startswith("linux"):
        print(
            "fastws serve: --workers needs SO_REUSEPORT, which spreads connections among "
            "processes on Linux only",
            file=sys.stderr,
        )
        return 2
    if args.port == 0:
        # Every worker must listen on the same port: pick one now.
        with socket.socket() as sock:
            sock.bind((args.host, 0))
            args.port = sock.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def start(index: int) -> tuple[Any, float]:
        process = context.Process(target=_worker, args=(args, index), name=f"fastws-worker-{index}")
        process.start()
        return process, time.monotonic()

    workers = {index: start(index) for index in range(args.workers)}
    status = 0
    while not stopping:
        time.sleep(0.1)
        for index, (process, started) in list(workers.items()):
            if process.is_alive():
                continue
            if time.monotonic() - started < _MIN_LIFETIME:
                print(
                    f"fastws serve: worker {index} exited with {process.exitcode} at start; stopping",
                    file=sys.stderr,
                    flush=True,
                )
                status = 1
                stopping = True
                break
            print(
                f"fastws serve: worker {index} (pid {process.pid}) exited with {process.exitcode}; restarting",
                file=sys.stderr,
                flush=True,
            )
            workers[index] = start(index)
    for process, _ in workers.values():
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker closes with 1001
    deadline = time.monotonic() + args.close_timeout + 5
    for process, _ in workers.values():
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(5)
    print("server closed", file=sys.stderr, flush=True)
    return status
