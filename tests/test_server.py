"""`policysearch serve` as a real process on a free loopback port: the JSON API and the page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import fields
from pathlib import Path
from collections.abc import Iterator

import pytest

from conftest import CORPUS, FIVE_RINGS, SIX_POINTS
from policysearch import Hit, PolicySearch, IndexSettings

XSS = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"
XSS_DOC = (f"市关工委校园安全教育通知\n2024-01-05\n来源:测试来源\n\n"
           f"各学校要加强校园安全教育。本文件正文含有脚本：{XSS}，它只能作为文字显示。\n")


class Server:
    def __init__(self, process: subprocess.Popen[str], base: str) -> None:
        self.process = process
        self.base = base

    def get(self, path: str, **params: object) -> tuple[int, dict]:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


def start_server(index: Path, *extra: str) -> Server:
    process = subprocess.Popen([sys.executable, "-m", "policysearch", "serve", "--index", str(index), "--port", "0", *extra],
                               stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    found = re.search(r"http://\S+/", line)
    assert found, line + process.stderr.read()
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return Server(process, found.group(0).rstrip("/"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled report plus a document carrying markup, served with the default model."""
    docs = tmp_path_factory.mktemp("docs")
    shutil.copytree(CORPUS, docs / "corpus")
    (docs / "xss.txt").write_text(XSS_DOC, encoding="utf-8")
    index = tmp_path_factory.mktemp("idx") / "served"
    PolicySearch.build([docs], index)
    running = start_server(index)
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)


def test_health_names_the_index_and_its_counts(server: Server) -> None:
    status, body = server.get("/api/health")
    assert status == 200
    assert body["documents"] == 2 and body["passages"] > 20
    assert body["model"] == "multilingual-e5-small" and body["modes"] == ["bm25", "dense", "hybrid"]
    assert "烟台市关工委" in body["sources"] and "测试来源" in body["sources"]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_search_api_finds_the_five_rings_in_every_mode(server: Server, mode: str) -> None:
    status, body = server.get("/api/search", q="什么是五环工作格局", k=3, mode=mode)
    assert status == 200
    texts = [hit["text"] for hit in body["hits"]]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)
    assert set(body["hits"][0]) == {f.name for f in fields(Hit)}


def test_a_hit_cites_the_document_text_it_shows(server: Server) -> None:
    _, body = server.get("/api/search", q="五环工作格局", k=1)
    hit = body["hits"][0]
    status, doc = server.get(f"/api/documents/{urllib.parse.quote(hit['doc_id'])}")
    assert status == 200 and doc["title"] == hit["title"]
    assert doc["text"][hit["start"]:hit["end"]] == hit["text"]


def test_ask_api_answers_with_a_cited_sentence(server: Server) -> None:
    status, answer = server.get("/api/ask", q="什么是五环工作格局")
    assert status == 200 and answer["answered"]
    _, doc = server.get(f"/api/documents/{urllib.parse.quote(answer['doc_id'])}")
    assert doc["text"][answer["start"]:answer["end"]] == answer["text"]
    assert "五环" in answer["text"]


def test_filters_narrow_the_results(server: Server) -> None:
    _, only = server.get("/api/search", q="关工委 安全教育", k=10, source="测试来源")
    assert only["hits"] and {h["source"] for h in only["hits"]} == {"测试来源"}
    _, dated = server.get("/api/search", q="关工委 安全教育", k=10, date_from="2022-01-01", date_to="2024-12-31")
    assert {h["date"] for h in dated["hits"]} == {"2024-01-05"}
    _, none = server.get("/api/search", q="关工委 安全教育", date_to="2020")
    assert none["hits"] == []


@pytest.mark.parametrize("params, status, words", [
    ({"q": ""}, 400, "empty"),
    ({"q": "   "}, 400, "empty"),
    ({"q": "五环", "mode": "magic"}, 400, "mode"),
    ({"q": "五环", "k": 0}, 400, "k"),
    ({"q": "五环", "k": "ten"}, 400, "k"),
    ({"q": "五环", "date_from": "2021-13"}, 400, "date_from"),
    ({"q": "五环", "kind": "key"}, 400, "kind 'key' is not a file type"),
])
def test_bad_requests_get_a_clear_json_error(server: Server, params: dict, status: int, words: str) -> None:
    got, body = server.get("/api/search", **params)
    assert got == status and words in body["error"]


def test_a_long_query_is_searched_by_its_beginning_as_in_the_library(server: Server) -> None:
    status, body = server.get("/api/search", q="五环工作格局" * 2_000, k=3)
    assert status == 200 and body["notice"] == "the query has 12000 characters; only its first 2000 were searched"
    assert body["hits"] == server.get("/api/search", q=("五环工作格局" * 2_000)[:2000], k=3)[1]["hits"]


def test_unknown_document_is_404(server: Server) -> None:
    status, body = server.get("/api/documents/no-such.txt")
    assert status == 404 and "no-such.txt" in body["error"]


def test_openapi_schema_lists_the_api(server: Server) -> None:
    status, schema = server.get("/openapi.json")
    assert status == 200
    assert {"/api/search", "/api/ask", "/api/health"} <= set(schema["paths"])
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(server.base + "/docs")  # FastAPI's docs page would load scripts from a CDN


def test_page_and_its_assets_come_from_the_package(server: Server) -> None:
    with urllib.request.urlopen(server.base + "/") as response:
        page = response.read().decode("utf-8")
    assert '<html lang="zh-CN">' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must not load anything from elsewhere"
    for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", page):
        with urllib.request.urlopen(server.base + asset) as response:
            assert response.status == 200


def test_busy_port_is_a_one_line_error(server: Server, tmp_path: Path) -> None:
    port = urllib.parse.urlparse(server.base).port
    index = Path(json.loads(urllib.request.urlopen(server.base + "/api/health").read())["index"])
    out = subprocess.run([sys.executable, "-m", "policysearch", "serve", "--index", str(index), "--port", str(port)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"policysearch: error: cannot listen on 127.0.0.1:{port} (Address already in use); pass another --port or --host"]


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = ["五环工作格局", "关工委", "下步贯彻落实意见", "顾秀莲", "讲话精神", "六个坚持"] * 5
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda q: (q, server.get("/api/search", q=q, mode="bm25", k=3)), queries))
    alone = {q: server.get("/api/search", q=q, mode="bm25", k=3)[1] for q in set(queries)}
    for query, (status, body) in results:
        assert status == 200 and body["hits"] and body == alone[query]


def raw_request(server: Server, target: bytes, host: bytes = b"127.0.0.1") -> tuple[int, dict]:
    """One request sent byte for byte as curl sends it (no percent-encoding of UTF-8)."""
    import socket

    address = urllib.parse.urlparse(server.base)
    with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


def test_raw_utf8_in_the_url_works_as_the_readme_shows(server: Server) -> None:
    status, body = raw_request(server, "/api/search?q=什么是五环工作格局&k=3".encode())
    assert status == 200 and body["query"] == "什么是五环工作格局"
    assert any(FIVE_RINGS in h["text"] for h in body["hits"])
    status, answer = raw_request(server, "/api/ask?q=调研月活动计划几月启动".encode())
    assert status == 200 and answer["answered"]
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", server.base + "/api/search?q=什么是五环工作格局&k=3"], capture_output=True,
                             text=True, timeout=60)
        assert any(FIVE_RINGS in h["text"] for h in json.loads(out.stdout)["hits"])


def test_a_request_that_is_not_http_gets_a_json_error(server: Server) -> None:
    status, body = raw_request(server, b"/api/search?q=a b c")
    assert status == 400 and "not a valid HTTP request" in body["error"]


def _connect(server: Server):
    import socket

    address = urllib.parse.urlparse(server.base)
    return socket.create_connection((address.hostname, address.port), timeout=60)


def _replies(sock, count: int) -> list[dict]:
    """`count` JSON responses read off one keep-alive connection."""
    buffer, bodies = b"", []
    while len(bodies) < count:
        head, sep, rest = buffer.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head.lower()) if sep else None
        if length and len(rest) >= int(length.group(1)):
            bodies.append(json.loads(rest[:int(length.group(1))]))
            buffer = rest[int(length.group(1)):]
            continue
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    return bodies


def test_raw_utf8_split_over_two_reads_or_pipelined_is_still_read(server: Server) -> None:
    import time

    request = "GET /api/search?q=什么是五环工作格局&k=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with _connect(server) as sock:
        cut = request.index("五".encode()) + 1  # inside a character's bytes
        sock.sendall(request[:cut])
        time.sleep(0.3)
        sock.sendall(request[cut:])
        (body,) = _replies(sock, 1)
        assert body["query"] == "什么是五环工作格局" and any(FIVE_RINGS in h["text"] for h in body["hits"])
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + request)  # pipelined on keep-alive
        health, again = _replies(sock, 2)
        assert health["status"] == "ok" and again == body


def test_slow_and_idle_connections_are_closed_and_connections_are_capped(server: Server) -> None:
    import time

    from policysearch.interfaces.server import HEAD_SECONDS, MAX_CONNECTIONS

    slow, idle = _connect(server), _connect(server)
    slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of its head
    started = time.monotonic()
    assert slow.recv(100) == b"" and idle.recv(100) == b""  # closed by the server, not by our 60 s timeout
    assert HEAD_SECONDS - 1 <= time.monotonic() - started <= HEAD_SECONDS + 10
    slow.close(), idle.close()
    held = [_connect(server) for _ in range(MAX_CONNECTIONS + 20)]
    try:
        time.sleep(1)
        for sock in held[-20:]:
            sock.settimeout(10)
            assert sock.recv(100) == b"", "a connection past the cap is closed at once"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    assert server.get("/api/health")[0] == 200


def test_only_loopback_host_names_are_served_on_loopback(server: Server) -> None:
    status, body = raw_request(server, b"/api/health", host=b"attacker.example:8000")
    assert status == 403 and "attacker.example" in body["error"] and "--allow-host" in body["error"]
    for name in (b"localhost", b"127.0.0.1:8000", b"[::1]:8000"):
        assert raw_request(server, b"/api/health", host=name)[0] == 200


def test_allow_host_adds_a_name(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    PolicySearch.build([CORPUS], index, IndexSettings(model=None))
    running = start_server(index, "--allow-host", "gwgw.example")
    try:
        assert raw_request(running, b"/api/health", host=b"gwgw.example:8000")[0] == 200
        assert raw_request(running, b"/api/health", host=b"other.example")[0] == 403
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)


def test_ask_is_capped_health_never_waits_and_torch_stays_out(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    status, body = server.get("/api/ask", q="五环工作格局", k=100)
    assert status == 400 and "k" in body["error"]
    finished: list[str] = []

    def call(path: str, **params: object) -> None:
        assert server.get(path, **params)[0] == 200
        finished.append(path)

    with ThreadPoolExecutor(6) as pool:
        questions = ("关心下一代工作的主要任务", "五老进校园", "调研月", "讲话精神")
        asks = [pool.submit(call, "/api/ask", q=q, k=10) for q in questions]
        health = pool.submit(call, "/api/health")
        for job in [*asks, health]:
            job.result()
    assert finished.index("/api/health") <= 1, finished
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "libtorch" not in maps, "an answer must not load torch inside a request"


def test_a_running_server_serves_the_version_published_after_it_started(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("关于开展家庭教育宣传周的通知。", encoding="utf-8")
    cli = [sys.executable, "-m", "policysearch", "index", str(tmp_path / "docs"), "--index", str(tmp_path / "idx"),
           "--no-dense"]
    assert subprocess.run(cli, capture_output=True, timeout=300).returncode == 0
    running = start_server(tmp_path / "idx")
    try:
        assert running.get("/api/search", q="五老进校园")[1]["hits"] == []
        (tmp_path / "docs" / "b.txt").write_text("关于开展五老进校园活动的工作方案。", encoding="utf-8")
        assert subprocess.run(cli, capture_output=True, timeout=300).returncode == 0
        assert [h["doc_id"] for h in running.get("/api/search", q="五老进校园")[1]["hits"]] == ["b.txt"]
        assert running.get("/api/health")[1]["documents"] == 2
        assert running.get("/api/documents/b.txt")[0] == 200
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)


def test_documents_show_no_server_path_and_come_in_windows(server: Server) -> None:
    _, body = server.get("/api/search", q="五环工作格局", k=1)
    hit = body["hits"][0]
    assert "/" not in hit["path"]
    doc_id = urllib.parse.quote(hit["doc_id"])
    status, whole = server.get(f"/api/documents/{doc_id}")
    assert status == 200 and whole["path"] == hit["path"] and whole["start"] == 0
    assert whole["length"] == len(whole["text"])
    _, part = server.get(f"/api/documents/{doc_id}", start=hit["start"], length=hit["end"] - hit["start"])
    assert part["text"] == hit["text"] and part["length"] == whole["length"]
    status, refused = server.get(f"/api/documents/{doc_id}", length=10**9)
    assert status == 400 and "length" in refused["error"]


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Debian's headless Chromium driven by Selenium; no browser is downloaded."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1100,900", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(20)
    yield driver
    driver.quit()


def search_page(browser, server: Server, query: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server.base + "/")
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query, Keys.ENTER)
    browser.find_element(By.CSS_SELECTOR, "#results li")


def test_page_shows_the_five_rings_highlighted_and_opens_the_document_there(browser, server: Server) -> None:
    from selenium.webdriver.common.by import By

    search_page(browser, server, "什么是五环工作格局")
    results = browser.find_elements(By.CSS_SELECTOR, "#results li")
    five = next(li for li in results if FIVE_RINGS in li.text)
    assert any("五环" in m.text for m in five.find_elements(By.CSS_SELECTOR, "mark.term"))
    answer = browser.find_element(By.ID, "answer")
    assert answer.is_displayed() and "五环" in answer.find_element(By.CSS_SELECTOR, ".sentence").text
    assert browser.find_elements(By.CSS_SELECTOR, "#results mark.answer")

    five.find_element(By.CSS_SELECTOR, ".cite a").click()
    cited = browser.find_element(By.CSS_SELECTOR, "#doc-text mark#cited")
    assert FIVE_RINGS in cited.text
    in_view = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight;", cited)
    assert in_view, "the cited passage is scrolled into view"
    assert browser.find_element(By.ID, "doc-title").text == "烟台市关工委召开主任办公会扩大会议"


def test_the_screenshot_shows_the_bundled_corpus_answering(browser, corpus_index: PolicySearch, tmp_path: Path) -> None:
    """The README's picture, taken anew on every run: the page answering 什么是五环工作格局 over the
    bundled corpus alone. `POLICYSEARCH_SCREENSHOT=docs/search-page.png` keeps it there."""
    from selenium.webdriver.common.by import By

    running = start_server(corpus_index.root)
    try:
        search_page(browser, running, "什么是五环工作格局")
        assert "1 份文件" in browser.find_element(By.TAG_NAME, "body").text
        assert "五环" in browser.find_element(By.CSS_SELECTOR, "#answer .sentence").text
        picture = tmp_path / "search-page.png"
        browser.save_screenshot(str(picture))
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    if os.environ.get("POLICYSEARCH_SCREENSHOT"):
        shutil.copyfile(picture, os.environ["POLICYSEARCH_SCREENSHOT"])


def test_page_shows_the_date_that_answers_in_bold(browser, server: Server) -> None:
    from selenium.webdriver.common.by import By

    search_page(browser, server, "调研月活动计划几月启动")
    sentence = browser.find_element(By.CSS_SELECTOR, "#answer .sentence")
    assert "市关工委拟于10月启动调研月活动" in sentence.text
    assert sentence.find_element(By.TAG_NAME, "strong").text == "10月"


def test_page_says_when_no_passage_answers(browser, server: Server) -> None:
    from selenium.webdriver.common.by import By

    search_page(browser, server, "篮球比赛每节多少分钟")
    card = browser.find_element(By.ID, "answer")
    assert card.is_displayed() and "没有哪一段足以回答这个问题" in card.text
    assert not card.find_elements(By.CSS_SELECTOR, ".sentence")


def test_page_shows_markup_in_documents_as_text(browser, server: Server) -> None:
    from selenium.webdriver.common.by import By

    search_page(browser, server, "校园安全教育")
    first = browser.find_element(By.CSS_SELECTOR, "#results li")
    assert "<script>window.__xss = 1</script>" in first.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#results script, #results img")
    first.find_element(By.CSS_SELECTOR, ".cite a").click()
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, "#doc-text mark#cited").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#doc-text script, #doc-text img")
    assert browser.execute_script("return window.__xss === undefined")


def test_page_works_from_the_keyboard_and_on_a_phone(browser, server: Server) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.set_window_size(390, 844)
    try:
        search_page(browser, server, "五环工作格局")
        browser.find_element(By.TAG_NAME, "body").click()
        ActionChains(browser).send_keys("/").perform()
        assert browser.switch_to.active_element.get_attribute("id") == "q"
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        browser.set_window_size(1100, 900)
