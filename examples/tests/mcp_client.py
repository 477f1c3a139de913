"""The Python MCP SDK's client (PyPI `mcp`) against examples/mcp.rs.

Usage: python3 mcp_client.py URL TOKEN [legacy|auto]

Connects over Streamable HTTP with `Authorization: Bearer TOKEN` (`legacy`,
the default: the initialize handshake; `auto`: `server/discover` first, the
2026-07-28 revision whose client sends `Mcp-Method` / `Mcp-Name`), lists the
tools, calls `search`, then `delete_repo`, and prints one JSON object:
{"tools": [...], "search": {...}, "delete_repo": {...}, "headers": [...]},
where a call is
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
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
except ImportError as e:  # pragma: no cover
    print(f"the Python `mcp` package is missing ({e}): pip install -r examples/tests/requirements.txt",
          file=sys.stderr)
    sys.exit(2)


async def main(url: str, token: str, mode: str) -> dict:
    refusals: list[dict] = []

    async def record(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            refusals.append({
                "status": response.status_code,
                "www_authenticate": response.headers.get("www-authenticate"),
            })

    sent: list[list] = []

    async def mirror(request: httpx2.Request) -> None:
        if request.method == "POST":
            sent.append([request.headers.get("mcp-method"), request.headers.get("mcp-name")])

    out: dict = {}
    client = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30.0),
        event_hooks={"request": [mirror], "response": [record]},
    )
    async with client:
        async with Client(streamable_http_client(url, http_client=client), mode=mode) as session:
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
    # The SEP-2243 headers each POST carried ([Mcp-Method, Mcp-Name], null
    # when not sent): what the server checked against the bodies.
    out["headers"] = sent
    return out


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print("usage: python3 mcp_client.py URL TOKEN [legacy|auto]", file=sys.stderr)
        sys.exit(64)
    mode = sys.argv[3] if len(sys.argv) == 4 else "legacy"
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], mode))))
