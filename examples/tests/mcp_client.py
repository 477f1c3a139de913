"""The Python MCP SDK's client (PyPI `mcp`) against examples/mcp.rs.

Usage: python3 mcp_client.py URL TOKEN

Connects over Streamable HTTP with `Authorization: Bearer TOKEN`, lists the
tools, calls `search`, then `delete_repo`, and prints one JSON object:
{"tools": [...], "search": {...}, "delete_repo": {...}}, where a call is
{"text": ...} when it succeeded, else {"error": ..., "status": ...,
"www_authenticate": ...} with the status and challenge of the HTTP response
the client received for it (an httpx event hook records them: the SDK turns
a 403 into a JSON-RPC error without the challenge). Exits 2 when the `mcp`
package is missing.
"""

import asyncio
import json
import sys

try:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
except ImportError as e:  # pragma: no cover
    print(f"the Python `mcp` package is missing ({e}): pip install -r examples/tests/requirements.txt",
          file=sys.stderr)
    sys.exit(2)


async def main(url: str, token: str) -> dict:
    refusals: list[dict] = []

    async def record(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            refusals.append({
                "status": response.status_code,
                "www_authenticate": response.headers.get("www-authenticate"),
            })

    out: dict = {}
    client = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30.0),
        event_hooks={"response": [record]},
    )
    async with client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                out["tools"] = sorted(t.name for t in tools.tools)
                for name, args in [("search", {"query": "tower"}), ("delete_repo", {"repo": "acme/site"})]:
                    before = len(refusals)
                    try:
                        result = await session.call_tool(name, args)
                    except Exception as e:  # the SDK raises the JSON-RPC error
                        call = {"error": str(e)}
                        if len(refusals) > before:
                            call.update(refusals[-1])
                        out[name] = call
                        continue
                    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
                    if result.is_error:
                        out[name] = {"error": " ".join(texts)}
                    else:
                        out[name] = {"text": " ".join(texts)}
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python3 mcp_client.py URL TOKEN", file=sys.stderr)
        sys.exit(64)
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
