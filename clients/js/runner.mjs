// Runs real JavaScript client libraries against an OpenAI-compatible base URL and reports what
// each client did. Long-lived worker: one JSON request per stdin line, exactly one JSON result
// line per request on stdout (in order, flushed after each). Diagnostics go to stderr only.
//
// Request: {"id": 7, "client": "openai-node" | "vercel-ai", "flow": "...", "baseURL": "http://.../v1",
//           "apiKey": "...", "model": "...", "maxTokens": 16, "toolMaxTokens": 48,
//           "timeoutMs": 60000 (optional; default: the library's own)}
// Result:  {"id": 7, "ok": bool, "error": null | "<ErrorClass>: <message>", "status": null | int,
//           "text": "...", "chunks": int, "toolCalls": [{"name": "...", "arguments": "<JSON string>"}]}
//
// Flows: openai-node: example | chat | tool      vercel-ai: generate | stream | tool
// Every request body is fixed by the request line (temperature 0 except the "example" flow, which
// reproduces the chat page's JavaScript example verbatim); no client ever retries (maxRetries: 0).
//
// Install: npm ci --prefix clients/js      Run: node clients/js/runner.mjs < requests.jsonl

import readline from "node:readline";
import OpenAI from "openai";
import { generateText, streamText, tool, APICallError } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { z } from "zod";

// Nothing but result lines may reach stdout: libraries that log go to stderr instead.
const writeStdout = process.stdout.write.bind(process.stdout);
for (const level of ["log", "info", "debug"]) console[level] = (...args) => console.error(...args);

process.on("unhandledRejection", (reason) => console.error("[runner] unhandled rejection:", reason));
process.on("uncaughtException", (err) => console.error("[runner] uncaught exception:", err));

const MAX_ERROR_MESSAGE = 500;

class RunnerError extends Error {
  constructor(message) {
    super(message);
    this.name = "RunnerError";
  }
}

const WEATHER_PROMPT = "What is the weather in Paris? Use the tool.";
const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

function className(err) {
  if (err === null || typeof err !== "object") return typeof err;
  const ctor = err.constructor && err.constructor.name;
  if (ctor && ctor !== "Object") return ctor;
  return typeof err.name === "string" && err.name ? err.name : "Object";
}

function messageOf(err) {
  if (err instanceof Error || (err && typeof err === "object" && typeof err.message === "string")) {
    return String(err.message);
  }
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

function formatError(err) {
  let msg = messageOf(err).replace(/\s+/g, " ").trim();
  if (msg.length > MAX_ERROR_MESSAGE) msg = msg.slice(0, MAX_ERROR_MESSAGE - 3) + "...";
  return `${className(err)}: ${msg}`;
}

// The HTTP status the library's error carries: openai -> err.status, ai -> APICallError.statusCode
// (also found on the cause / last error of a wrapper, e.g. RetryError).
function statusOf(err, seen = new Set()) {
  if (err === null || typeof err !== "object" || seen.has(err)) return null;
  seen.add(err);
  if (APICallError.isInstance(err) && Number.isInteger(err.statusCode)) return err.statusCode;
  if (err instanceof OpenAI.APIError && Number.isInteger(err.status)) return err.status;
  for (const inner of [err.lastError, err.cause]) {
    const s = statusOf(inner, seen);
    if (s !== null) return s;
  }
  return null;
}

function requireFields(req, names) {
  for (const name of names) {
    if (req[name] === undefined || req[name] === null) throw new RunnerError(`request lacks "${name}"`);
  }
}

function argumentsString(args) {
  if (typeof args === "string") return args;
  if (args === undefined) return "";
  return JSON.stringify(args);
}

// ---------------------------------------------------------------- openai-node (package openai)

function openaiClient(req) {
  const options = { baseURL: req.baseURL, apiKey: req.apiKey, maxRetries: 0 };
  if (Number.isInteger(req.timeoutMs)) options.timeout = req.timeoutMs;
  return new OpenAI(options);
}

const OPENAI_FLOWS = {
  // The chat page's JavaScript example as printed, with only max_tokens added (and maxRetries: 0).
  async example(req, out) {
    const client = openaiClient(req);
    const stream = await client.chat.completions.create({
      model: req.model,
      stream: true,
      max_tokens: req.maxTokens,
      messages: [
        { role: "system", content: "You are a concise assistant." },
        { role: "user", content: "Explain AnyInt in one sentence." },
      ],
    });
    for await (const chunk of stream) {
      out.chunks += 1;
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) out.text += delta;
    }
  },

  async chat(req, out) {
    const client = openaiClient(req);
    const resp = await client.chat.completions.create({
      model: req.model,
      messages: [{ role: "user", content: "Say hello." }],
      max_tokens: req.maxTokens,
      temperature: 0,
    });
    const content = resp.choices[0].message.content; // no guard: a throw here is the client breaking
    out.text = content ?? "";
  },

  async tool(req, out) {
    const client = openaiClient(req);
    const resp = await client.chat.completions.create({
      model: req.model,
      messages: [{ role: "user", content: WEATHER_PROMPT }],
      tools: [WEATHER_TOOL],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      max_tokens: req.toolMaxTokens,
      temperature: 0,
    });
    const message = resp.choices[0].message; // no guard on choices[0]
    out.text = message.content ?? "";
    for (const call of message.tool_calls ?? []) {
      out.toolCalls.push({ name: call.function?.name ?? null, arguments: argumentsString(call.function?.arguments) });
    }
  },
};

// ------------------------------------------------- vercel-ai (packages ai + @ai-sdk/openai-compatible)

function vercelModel(req) {
  const provider = createOpenAICompatible({ name: "anyint", baseURL: req.baseURL, apiKey: req.apiKey });
  return provider.chatModel(req.model);
}

function vercelCommon(req) {
  const options = { maxRetries: 0, temperature: 0 };
  if (Number.isInteger(req.timeoutMs)) options.abortSignal = AbortSignal.timeout(req.timeoutMs);
  return options;
}

const VERCEL_FLOWS = {
  async generate(req, out) {
    const result = await generateText({
      model: vercelModel(req),
      prompt: "Say hello.",
      maxOutputTokens: req.maxTokens,
      ...vercelCommon(req),
    });
    out.text = result.text;
  },

  async stream(req, out) {
    // streamText never throws for a failed request: it only reports through onError (which by
    // default just logs) and "error" parts of fullStream. Both are captured; the first one wins.
    let failure;
    let failed = false;
    const fail = (err) => {
      if (!failed) {
        failed = true;
        failure = err;
      }
    };
    const result = streamText({
      model: vercelModel(req),
      prompt: "Say hello.",
      maxOutputTokens: req.maxTokens,
      ...vercelCommon(req),
      onError: ({ error }) => fail(error),
    });
    for await (const part of result.fullStream) {
      out.chunks += 1;
      if (part.type === "text-delta") out.text += part.text ?? "";
      else if (part.type === "error") fail(part.error);
    }
    if (failed) throw failure;
  },

  async tool(req, out) {
    const result = await generateText({
      model: vercelModel(req),
      prompt: WEATHER_PROMPT,
      tools: {
        get_weather: tool({ description: "Weather for a city", inputSchema: z.object({ city: z.string() }) }),
      },
      toolChoice: { type: "tool", toolName: "get_weather" },
      maxOutputTokens: req.toolMaxTokens,
      ...vercelCommon(req),
    });
    out.text = result.text;
    for (const call of result.toolCalls) {
      out.toolCalls.push({ name: call.toolName, arguments: JSON.stringify(call.input) ?? "" });
    }
  },
};

const CLIENTS = { "openai-node": OPENAI_FLOWS, "vercel-ai": VERCEL_FLOWS };

// ------------------------------------------------------------------------------------ the loop

async function handle(req) {
  const out = { id: req.id ?? null, ok: false, error: null, status: null, text: "", chunks: 0, toolCalls: [] };
  try {
    const flows = Object.hasOwn(CLIENTS, req.client) ? CLIENTS[req.client] : null;
    if (!flows) {
      throw new RunnerError(`unknown client ${JSON.stringify(req.client)} (known: ${Object.keys(CLIENTS).join(", ")})`);
    }
    const flow = Object.hasOwn(flows, req.flow) ? flows[req.flow] : null;
    if (!flow) {
      throw new RunnerError(
        `unknown flow ${JSON.stringify(req.flow)} for client ${req.client} (known: ${Object.keys(flows).join(", ")})`,
      );
    }
    requireFields(req, ["baseURL", "apiKey", "model", req.flow === "tool" ? "toolMaxTokens" : "maxTokens"]);
    await flow(req, out);
    out.ok = true;
  } catch (err) {
    out.ok = false;
    out.error = formatError(err);
    out.status = statusOf(err);
  }
  if (typeof out.text !== "string") out.text = out.text == null ? "" : String(out.text);
  return out;
}

function emit(obj) {
  return new Promise((resolve) => {
    writeStdout(JSON.stringify(obj) + "\n", () => resolve());
  });
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
      if (req === null || typeof req !== "object" || Array.isArray(req)) throw new RunnerError("request is not a JSON object");
    } catch (err) {
      await emit({ id: null, ok: false, error: formatError(err), status: null, text: "", chunks: 0, toolCalls: [] });
      continue;
    }
    let result;
    try {
      result = await handle(req);
    } catch (err) {
      result = { id: req.id ?? null, ok: false, error: formatError(err), status: null, text: "", chunks: 0, toolCalls: [] };
    }
    await emit(result);
  }
  // stdin closed: exit even if keep-alive sockets are still open.
  process.exit(0);
}

main().catch((err) => {
  console.error("[runner] fatal:", err);
  process.exit(1);
});
