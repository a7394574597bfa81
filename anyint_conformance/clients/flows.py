"""Real client libraries, run the way their users run them, against a base URL (the replay server).

Each flow is what a client's users write: a chat, a stream, a forced tool call, the page's own example.
A flow returns what the client handed over or the client's own error; it never judges (clients/judge.py
does, from the answers the replay server served). Requests are deterministic (temperature 0 except the
page's example, which has none; max_tokens always), so recordings replay:

  openai-python  chat, tool            openai (PyPI), in process; the page's Python example is its own cell
  langchain      invoke, stream, bind_tools   langchain-openai's ChatOpenAI, in process
  openai-node    example, chat, tool   openai (npm), clients/js/runner.mjs; `example` is the page's JavaScript example as printed
  vercel-ai      generate, stream, tool   ai + @ai-sdk/openai-compatible (npm), clients/js/runner.mjs
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable

from anyint_conformance.clients.node import NodeWorker, node_version

SAY_HELLO = "Say hello."
ASK_TOOL = "What is the weather in Paris? Use the tool."
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@dataclass
class Request:
    base_url: str
    api_key: str
    model: str
    max_tokens: int
    tool_max_tokens: int
    timeout: float


@dataclass
class Result:
    ok: bool
    error: str | None = None  # the client's own error: its class and message
    status: int | None = None
    text: str = ""
    chunks: int = 0
    tool_calls: list[dict] = field(default_factory=list)  # [{name, arguments}]


@dataclass(frozen=True)
class Flow:
    client: str
    name: str
    run: Callable[[Request], Result]
    calls_tool: bool = False  # the flow forces a tool call
    what: str = ""  # what it runs, for the evidence
    streams: bool = False  # the flow asks for a stream

    @property
    def parameter(self) -> str:
        return f"client: {self.client} {self.name}"


def _error(exc: Exception) -> Result:
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return Result(False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}", status if isinstance(status, int) else None)


# -- openai (Python) -------------------------------------------------------------------------------------


_HTTP: list = []  # the one HTTP client of the in-process flows, made on first use
_HTTP_LOCK = threading.Lock()


def _http():
    """The SDK's own default HTTP client, one for every in-process flow: a client per flow loads the CA
    bundle each time (~30 ms), and the replay server is plain HTTP on 127.0.0.1, which no proxy from the
    environment could reach (trust_env off)."""
    import openai

    with _HTTP_LOCK:
        if not _HTTP:
            # LangChain builds an async client beside the sync one unless given one: the same settings, never used here
            _HTTP.extend([openai.DefaultHttpxClient(trust_env=False, verify=False), openai.DefaultAsyncHttpxClient(trust_env=False, verify=False)])
        return _HTTP[0]


def _openai(r: Request):
    import openai

    return openai.OpenAI(base_url=r.base_url, api_key=r.api_key, max_retries=0, timeout=r.timeout, http_client=_http())


def _openai_chat(r: Request) -> Result:
    try:
        answer = _openai(r).chat.completions.create(model=r.model, messages=[{"role": "user", "content": SAY_HELLO}], max_tokens=r.max_tokens, temperature=0)
        return Result(True, text=answer.choices[0].message.content or "")
    except Exception as exc:  # noqa: BLE001 - the client's own error is the evidence
        return _error(exc)


def _openai_tool(r: Request) -> Result:
    try:
        answer = _openai(r).chat.completions.create(model=r.model, messages=[{"role": "user", "content": ASK_TOOL}], tools=[WEATHER],
                                                    tool_choice={"type": "function", "function": {"name": "get_weather"}}, max_tokens=r.tool_max_tokens, temperature=0)
        calls = answer.choices[0].message.tool_calls or []
        return Result(True, text=answer.choices[0].message.content or "", tool_calls=[{"name": c.function.name, "arguments": c.function.arguments} for c in calls])
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


# -- LangChain ----------------------------------------------------------------------------------------------


def _chat_openai(r: Request, max_tokens: int):
    """ChatOpenAI as its users configure it. langchain-openai sends `max_tokens` as max_completion_tokens,
    which some servers ignore (llama-cpp-python: a request then runs to the end of the model's context):
    max_tokens goes along in extra_body too, so every request stays bounded."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=r.model, base_url=r.base_url, api_key=r.api_key, max_tokens=max_tokens, temperature=0, max_retries=0, timeout=r.timeout,
                      extra_body={"max_tokens": max_tokens}, http_client=_http(), http_async_client=_HTTP[1])


def _langchain_invoke(r: Request) -> Result:
    try:
        return Result(True, text=str(_chat_openai(r, r.max_tokens).invoke(SAY_HELLO).content))
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


def _langchain_stream(r: Request) -> Result:
    text, chunks = [], 0
    try:
        for chunk in _chat_openai(r, r.max_tokens).stream(SAY_HELLO):
            chunks += 1
            text.append(str(chunk.content))
        return Result(True, text="".join(text), chunks=chunks)
    except Exception as exc:  # noqa: BLE001
        result = _error(exc)
        result.text, result.chunks = "".join(text), chunks
        return result


def _langchain_tools(r: Request) -> Result:
    try:
        message = _chat_openai(r, r.tool_max_tokens).bind_tools([WEATHER], tool_choice="get_weather").invoke(ASK_TOOL)
        return Result(True, text=str(message.content), tool_calls=[{"name": c["name"], "arguments": json.dumps(c["args"])} for c in message.tool_calls])
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


# -- Node clients, through one worker process -----------------------------------------------------------------


def _node(client: str, flow: str) -> Callable[[Request], Result]:
    def run(r: Request) -> Result:
        answer = NodeWorker.shared().run({"client": client, "flow": flow, "baseURL": r.base_url, "apiKey": r.api_key, "model": r.model,
                                          "maxTokens": r.max_tokens, "toolMaxTokens": r.tool_max_tokens, "timeoutMs": int(r.timeout * 1000)})
        return Result(bool(answer.get("ok")), answer.get("error"), answer.get("status"), answer.get("text") or "", answer.get("chunks") or 0,
                      [{"name": c.get("name"), "arguments": c.get("arguments")} for c in answer.get("toolCalls") or []])
    return run


FLOWS: dict[tuple[str, str], Flow] = {(f.client, f.name): f for f in (
    Flow("openai-python", "chat", _openai_chat, what="client.chat.completions.create(...), then choices[0].message.content"),
    Flow("openai-python", "tool", _openai_tool, True, "a forced tool call, then choices[0].message.tool_calls"),
    Flow("langchain", "invoke", _langchain_invoke, what="ChatOpenAI(...).invoke(prompt).content"),
    Flow("langchain", "stream", _langchain_stream, what="for chunk in ChatOpenAI(...).stream(prompt)", streams=True),
    Flow("langchain", "bind_tools", _langchain_tools, True, "ChatOpenAI(...).bind_tools([get_weather], tool_choice=...).invoke(...).tool_calls"),
    Flow("openai-node", "example", _node("openai-node", "example"), what="the page's JavaScript example as printed (max_tokens added)", streams=True),
    Flow("openai-node", "chat", _node("openai-node", "chat"), what="client.chat.completions.create(...), then choices[0].message.content"),
    Flow("openai-node", "tool", _node("openai-node", "tool"), True, "a forced tool call, then choices[0].message.tool_calls"),
    Flow("vercel-ai", "generate", _node("vercel-ai", "generate"), what="generateText({model: createOpenAICompatible(...).chatModel(id), prompt})"),
    Flow("vercel-ai", "stream", _node("vercel-ai", "stream"), what="streamText(...), fullStream iterated", streams=True),
    Flow("vercel-ai", "tool", _node("vercel-ai", "tool"), True, "generateText with a tool and toolChoice {type: tool}"),
)}
NODE_CLIENTS = {"openai-node": "openai", "vercel-ai": "ai"}


def version(client: str) -> str:
    """The client library and its version as pinned (requirements.lock, clients/js/package-lock.json)."""
    if client in NODE_CLIENTS:
        return f"{NODE_CLIENTS[client]} {node_version(NODE_CLIENTS[client]) or '(not installed)'}" + (
            f" + @ai-sdk/openai-compatible {node_version('@ai-sdk/openai-compatible')}" if client == "vercel-ai" else "")
    package = {"openai-python": "openai", "langchain": "langchain-openai"}[client]
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return f"{package} (not installed)"


def available(client: str) -> str | None:
    """Why the client cannot run here, or None."""
    if client in NODE_CLIENTS:
        return NodeWorker.unavailable()
    return None
