"""book/_ext/kernel_poll.py: the book build's kernel client polls in slices, so a lost ZeroMQ
wake-up costs one slice, not the whole cell timeout (the 180 s build stall)."""

import asyncio
from pathlib import Path
from queue import Empty

import pytest
import yaml
from jupyter_client.channels import AsyncZMQSocketChannel

import kernel_poll  # book/_ext (pyproject.toml: pythonpath)

REPO = Path(__file__).resolve().parents[1]




class LostWakeUpSocket:
    """A socket whose reply is already queued but whose wake-up was lost: like pyzmq's asyncio
    poll, a poll with a timeout reports it only when that timeout ends (here: at once, with the
    timeouts recorded), and a poll(0) sees it."""

    def __init__(self, ready: bool = True):
        self.ready = ready
        self.timeouts_ms: list[int] = []

    async def poll(self, timeout_ms):
        self.timeouts_ms.append(timeout_ms)
        return int(self.ready)


class Channel:
    get_msg = kernel_poll.sliced_get_msg

    def __init__(self, socket):
        self.socket = socket

    async def _recv(self):
        return {"msg_type": "execute_reply"}


def test_each_poll_waits_at_most_one_slice():
    """The wait for a cell's reply (the cell timeout, 180 s in _config.yml) is asked of the
    socket one slice at a time, so a reply found only at a poll's end is found within 1 s."""
    socket = LostWakeUpSocket()
    msg = asyncio.run(Channel(socket).get_msg(timeout=180))
    assert msg == {"msg_type": "execute_reply"}
    assert socket.timeouts_ms == [int(kernel_poll.POLL_SLICE_S * 1000)]


def test_no_timeout_means_wait_for_ever_in_slices():
    socket = LostWakeUpSocket()
    asyncio.run(Channel(socket).get_msg(timeout=None))
    assert socket.timeouts_ms == [int(kernel_poll.POLL_SLICE_S * 1000)]


def test_nothing_arrives_raises_empty_at_the_deadline():
    """Same contract as jupyter_client: Empty once the timeout has passed, every slice <= 1 s."""
    socket = LostWakeUpSocket(ready=False)
    with pytest.raises(Empty):
        asyncio.run(Channel(socket).get_msg(timeout=0.05))
    assert socket.timeouts_ms and all(0 <= t <= 50 for t in socket.timeouts_ms)


def test_zero_timeout_is_one_non_blocking_poll():
    socket = LostWakeUpSocket(ready=False)
    with pytest.raises(Empty):
        asyncio.run(Channel(socket).get_msg(timeout=0))
    assert socket.timeouts_ms == [0]


def test_setup_installs_it_and_the_book_loads_it():
    before = AsyncZMQSocketChannel.get_msg
    try:
        kernel_poll.setup(None)
        assert AsyncZMQSocketChannel.get_msg is kernel_poll.sliced_get_msg
    finally:
        AsyncZMQSocketChannel.get_msg = before
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["kernel_poll"] == "book/_ext"
    assert "kernel_poll" in config["sphinx"]["config"]["extensions"]
    assert kernel_poll.POLL_SLICE_S <= 1.0 < config["execute"]["timeout"]


def test_the_book_build_ran_with_it(built_book):
    assert "[kernel_poll] kernel replies are polled in 1 s slices" in built_book.log
