"""`policysearch mcp`: the official MCP SDK's own client starts the server over stdio (and talks
to it over streamable HTTP beside `serve`), lists the tools and calls each one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, FIVE_RINGS

pytest.importorskip("mcp")

LAW = ("中华人民共和国青少年示例保护法\n第一条 为了保护青少年身心健康，制定本法。\n"
       "第二条 本法所称青少年，是指未满十八周岁的公民。\n"
       "第三条 国家、社会、学校和家庭应当共同做好青少年保护工作，尊重青少年人格尊严，适应青少年身心发展规律。\n")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from policysearch import IndexSettings, PolicySearch

    folder = tmp_path_factory.mktemp("mcp")
    shutil.copytree(CORPUS, folder / "docs")
    (folder / "docs" / "中华人民共和国青少年示例保护法.txt").write_text(LAW, encoding="utf-8")
    PolicySearch.build([folder / "docs"], folder / "index", IndexSettings(model=None)).close()  # the tools, not the model
    return folder / "index"


def child_environment() -> dict[str, str]:
    """What the server process needs of ours: the temporary caches and the precision of this run."""
    return {k: v for k, v in os.environ.items() if k.startswith("POLICYSEARCH_") or k in ("PATH", "HOME")}


async def every_tool(index: Path) -> dict:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    server = StdioServerParameters(command=sys.executable, args=["-m", "policysearch", "mcp", "--index", str(index)],
                                   env=child_environment())
    out: dict = {}
    async with Client(server) as client:
        out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
        out["search"] = await client.call_tool("search", {"query": "什么是五环工作格局", "k": 3})
        hit = out["search"].structured_content["passages"][0]
        cited = hit["citation"]
        out["document"] = await client.call_tool("get_document", {"doc_id": cited["doc_id"], "start": cited["start"],
                                                                  "length": cited["end"] - cited["start"]})
        out["own_quote"] = await client.call_tool("verify_quote", {"doc_id": cited["doc_id"], "start": cited["start"],
                                                                   "end": cited["end"], "text": hit["text"]})
        changed = hit["text"].replace("五环", "六环", 1)
        out["changed_quote"] = await client.call_tool("verify_quote", {"doc_id": cited["doc_id"], "start": cited["start"],
                                                                       "end": cited["end"], "text": changed})
        out["ask"] = await client.call_tool("ask", {"question": "什么是五环工作格局"})
        out["list"] = await client.call_tool("list_documents", {})
        out["article"] = await client.call_tool("lookup_article", {"reference": "青少年示例保护法第三条"})
        out["no_article"] = await client.call_tool("lookup_article", {"reference": "青少年示例保护法第九十条"})
        out["no_law"] = await client.call_tool("lookup_article", {"reference": "民法典第一千零八十四条"})
        out["bad_date"] = await client.call_tool("search", {"query": "五环", "date_from": "去年"})
        out["bad_k"] = await client.call_tool("search", {"query": "五环", "k": 0})
    return out


def test_every_tool_answers_through_the_sdk_client_over_stdio(index: Path) -> None:
    out = asyncio.run(every_tool(index))
    assert set(out["tools"]) == {"search", "ask", "get_document", "list_documents", "lookup_article", "verify_quote"}
    assert out["tools"]["search"].input_schema["properties"]["query"]["type"] == "string"
    assert out["tools"]["search"].output_schema is not None

    found = out["search"].structured_content
    assert not out["search"].is_error and len(found["passages"]) == 3
    assert any(FIVE_RINGS in p["text"] for p in found["passages"])
    first = found["passages"][0]["citation"]
    assert first["title"] == "烟台市关工委召开主任办公会扩大会议" and first["date"] == "2021-06-09"
    assert out["document"].structured_content["text"] == found["passages"][0]["text"], "the citation's offsets are exact"

    assert out["own_quote"].structured_content["verified"] is True
    assert out["changed_quote"].structured_content["verified"] is False
    assert out["changed_quote"].structured_content["found_at"] == []

    answer = out["ask"].structured_content
    assert answer["answered"] and answer["citation"]["doc_id"] == first["doc_id"]
    titles = {d["title"] for d in out["list"].structured_content["documents"]}
    assert titles == {"烟台市关工委召开主任办公会扩大会议", "中华人民共和国青少年示例保护法"}

    article = out["article"].structured_content
    assert article["text"] == LAW.splitlines()[3] and article["citation"]["article"] == "第三条"
    assert out["no_article"].is_error and "in this index has no 第90条" in out["no_article"].content[0].text
    assert out["no_law"].is_error and "names no article of a law in this index" in out["no_law"].content[0].text
    assert out["bad_date"].is_error and "date_from '去年' is not a date" in out["bad_date"].content[0].text
    assert out["bad_k"].is_error and "k must be 1 to 50" in out["bad_k"].content[0].text


async def search_over_http(port: int) -> dict:
    from mcp import Client

    async with Client(f"http://127.0.0.1:{port}/mcp/") as client:
        return (await client.call_tool("search", {"query": "什么是五环工作格局", "k": 2})).structured_content


def test_streamable_http_beside_serve_with_the_same_host_check(index: Path) -> None:
    import httpx

    server = subprocess.Popen([sys.executable, "-m", "policysearch", "serve", "--index", str(index), "--port", "0"],
                              stderr=subprocess.PIPE, text=True, env=child_environment())
    try:
        line = ""
        while "serving" not in line:
            line = server.stderr.readline()
            assert line, "the server stopped before serving"
        port = int(re.search(r":(\d+)/", line).group(1))
        found = asyncio.run(search_over_http(port))
        assert any(FIVE_RINGS in p["text"] for p in found["passages"])
        rebinding = httpx.post(f"http://127.0.0.1:{port}/mcp/", headers={"Host": "attacker.example"},
                               json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert rebinding.status_code == 403 and "attacker.example" in json.loads(rebinding.text)["error"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_readme_configuration_starts_a_working_server(index: Path, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    config = json.loads(re.search(r'```json\n(\{"mcpServers".*?)\n```', readme, re.S).group(1))["mcpServers"]["policysearch"]
    if shutil.which(config["command"]) is None:
        pytest.skip(f"{config['command']} is not on PATH")
    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "default").symlink_to(index)

    async def listed() -> set[str]:
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters

        server = StdioServerParameters(command=config["command"], args=config["args"], cwd=tmp_path,
                                       env=child_environment())
        async with Client(server) as client:
            found = await client.call_tool("search", {"query": "五环工作格局", "k": 1})
            return {p["citation"]["title"] for p in found.structured_content["passages"]}

    assert asyncio.run(listed()) == {"烟台市关工委召开主任办公会扩大会议"}
