"""Stop the book build from stalling for a whole cell timeout (180 s) on a lost kernel wake-up.

myst-nb runs each notebook with nbclient, which waits for a cell's ``execute_reply`` with
``jupyter_client``'s ``AsyncZMQSocketChannel.get_msg(timeout=<cell timeout>)``, an asyncio
``socket.poll(timeout)`` in pyzmq. That poll is woken by ZeroMQ's *edge-triggered* file
descriptor. When the wake-up is lost, the poll sleeps until its timeout and then makes one last
non-blocking check, which finds the reply that has been waiting all along. So one lost wake-up
costs the full ``execute.timeout`` (180 s in ``_config.yml``), with no error and no warning:
the stall seen in about one build in four, on a different notebook each time.

Measured with this file's stress mode (``python book/_ext/kernel_poll.py --help``): every
notebook executed in a loop, each message's send time (``header.date``) compared with the time
the client received it. Unpatched, an ``execute_reply`` sat on the socket for the whole 30 s
timeout of that run before the client saw it; patched, no message waits longer than one slice.

The fix: poll in slices of at most ``POLL_SLICE_S``. Each slice ends with the same
non-blocking check, so a lost wake-up costs at most one slice. ``setup`` installs it in the
Sphinx process that executes the notebooks (nbval uses the blocking client, which polls with
``zmq_poll`` and is not affected).

References:
    ZeroMQ ``ZMQ_FD`` is edge-triggered: http://api.zeromq.org/4-3:zmq-getsockopt
    pyzmq's asyncio poller (final ``poll(0)`` on timeout):
        https://github.com/zeromq/pyzmq/blob/v27.3.0/zmq/_future.py
    nbclient's reply wait: https://github.com/jupyter/nbclient/blob/v0.11.0/nbclient/client.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import sys
import time
from queue import Empty

from jupyter_client.channels import AsyncZMQSocketChannel

POLL_SLICE_S = 1.0  # the most a lost wake-up can cost; a wake-up per second per waiting poll
UNPATCHED_GET_MSG = AsyncZMQSocketChannel.get_msg


async def sliced_get_msg(self, timeout: float | None = None) -> dict:
    """``AsyncZMQSocketChannel.get_msg`` (same contract: the next message, or ``Empty`` after
    ``timeout`` seconds; ``None`` waits for ever), polling in slices of ``POLL_SLICE_S``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = POLL_SLICE_S if deadline is None else deadline - time.monotonic()
        if await self.socket.poll(max(0, int(min(left, POLL_SLICE_S) * 1000))):
            return await self._recv()
        if deadline is not None and time.monotonic() >= deadline:
            raise Empty


def install() -> None:
    """Make every asyncio kernel client in this process poll in slices."""
    AsyncZMQSocketChannel.get_msg = sliced_get_msg


def setup(app) -> dict:
    """Sphinx entry point (listed in ``_config.yml``'s extensions)."""
    install()
    from sphinx.util import logging
    logging.getLogger(__name__).info(f"[kernel_poll] kernel replies are polled in "
                                     f"{POLL_SLICE_S:g} s slices")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


# ---- stress mode: count the messages the client saw late ------------------------------------
def _lag_s(msg: dict) -> float:
    sent = msg["header"]["date"]
    sent = dt.datetime.fromisoformat(sent) if isinstance(sent, str) else sent
    return (dt.datetime.now(dt.timezone.utc) - sent).total_seconds()


def stress(seconds: float, patched: bool, timeout: int, late_s: float = 0.5) -> dict:
    """Execute every notebook in ``notebooks/`` in a loop for ``seconds``; report each message
    received more than ``late_s`` after the kernel sent it."""
    import nbformat
    from nbclient import NotebookClient

    get_msg = sliced_get_msg if patched else UNPATCHED_GET_MSG
    late: list[dict] = []
    counts = {"messages": 0, "notebooks_run": 0}

    async def timed_get_msg(self, timeout=None):
        msg = await get_msg(self, timeout)
        counts["messages"] += 1
        if (lag := _lag_s(msg)) > late_s:
            late.append({"type": msg["msg_type"], "lag_s": round(lag, 3), "timeout": timeout})
        return msg

    AsyncZMQSocketChannel.get_msg = timed_get_msg
    end = time.monotonic() + seconds
    paths = sorted(glob.glob("notebooks/*.ipynb"))
    try:
        while time.monotonic() < end:
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": "notebooks"}}).execute()
                counts["notebooks_run"] += 1
                if time.monotonic() >= end:
                    break
    finally:
        AsyncZMQSocketChannel.get_msg = UNPATCHED_GET_MSG
    return {"patched": patched, "cell_timeout_s": timeout, **counts, "late": late}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Execute the notebooks in a loop (run from the "
                                     "repository root) and report messages the client saw late.")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--timeout", type=int, default=30, help="cell timeout, s")
    parser.add_argument("--unpatched", action="store_true", help="jupyter_client as shipped")
    args = parser.parse_args()
    json.dump(stress(args.seconds, not args.unpatched, args.timeout), sys.stdout, indent=1)
    print()
