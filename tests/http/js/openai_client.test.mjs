// The official `openai` package against Corolla's HTTP face: the embedded default
// (actor-chat --local --http) and a swarm of three actor-node processes. At temperature 0
// the text must be the single-process generator's.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { spawnSync } from "node:child_process";
import { app, start, stopAll, tempDir, makeModel, greedyText, threeNodeSwarm, headOnlyGateway, metric, waitFor } from "./support.mjs";

const dir = tempDir();
const model = makeModel(dir);
const prompt = "Once upon a time";
const reference = greedyText(model, prompt, 24);
assert.ok(reference.length >= 12, `the reference text is too short to test stop strings: ${JSON.stringify(reference)}`);
let embedded;  // base URL of actor-chat --local --http

before(async () => {
  const p = await start(app("actor-chat"), ["--local", "--model", model, "--http", "127.0.0.1:0"], /serving the OpenAI API on (http:\/\/[0-9.:]+)/);
  embedded = p.match[1];
});
after(stopAll);

const client = (url, extra = {}) => new OpenAI({ baseURL: url + "/v1", apiKey: "none", maxRetries: 0, ...extra });

test("completions at temperature 0 give the single-process text", async () => {
  const r = await client(embedded).completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0 });
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices[0].text, reference);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 24);
  const full = await client(embedded).completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0, ignore_eos: true });
  assert.equal(full.choices[0].finish_reason, "length");
  assert.equal(full.usage.completion_tokens, 24);
});

test("chat, streamed and not, gives the same text, the role first and the reason last", async () => {
  const c = client(embedded);
  const messages = [{ role: "system", content: "You tell stories." }, { role: "user", content: "A story about a dog" }];
  const whole = await c.chat.completions.create({ model: "demo", messages, max_tokens: 16, temperature: 0 });
  assert.equal(whole.object, "chat.completion");
  assert.equal(whole.choices[0].message.role, "assistant");
  const stream = await c.chat.completions.create({ model: "demo", messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = "";
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.equal(chunks.at(-2).choices[0].finish_reason, "length");
  assert.equal(chunks.at(-1).usage.completion_tokens, 16);
  assert.equal(text, whole.choices[0].message.content);
});

test("a stop string ends the text before it", async () => {
  const stop = reference.slice(6, 9);
  const r = await client(embedded).completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].text, reference.slice(0, reference.indexOf(stop)));
});

test("the same seed gives the same text; no seed, a fresh one each time", async () => {
  const c = client(embedded);
  const ask = (seed) => c.completions.create({ model: "demo", prompt, max_tokens: 32, temperature: 1.5, top_k: 0, top_p: 1, min_p: 0, ...(seed === undefined ? {} : { seed }) });
  const [a, b] = [await ask(7), await ask(7)];
  assert.equal(a.choices[0].text, b.choices[0].text);
  const texts = new Set();
  for (let i = 0; i < 4; ++i) texts.add((await ask()).choices[0].text);
  assert.ok(texts.size > 1, "four unseeded answers at temperature 1.5 were all the same");
});

test("errors come back as OpenAI errors with the right status", async () => {
  const c = client(embedded);
  await assert.rejects(c.chat.completions.create({ model: "demo", messages: [] }), (e) => e.status === 400 && /messages/.test(e.message));
  await assert.rejects(c.chat.completions.create({ model: "demo", messages: [{ role: "user", content: "x" }], temperature: "hot" }), (e) => e.status === 400 && /temperature/.test(e.message));
  await assert.rejects(c.completions.create({ model: "demo", prompt: "word ".repeat(3000) }), (e) => e.status === 400 && e.code === "context_length_exceeded");
});

test("aborting a stream stops the generation", async () => {
  const before = await metric(embedded, 'corolla_requests_total{endpoint="chat",outcome="cancelled"}');
  const stream = await client(embedded).chat.completions.create({ model: "demo", messages: [{ role: "user", content: "Go on" }], max_tokens: 1800, ignore_eos: true, stream: true });
  let n = 0;
  for await (const chunk of stream) {
    if (++n === 3) break;  // the package aborts the request: the connection closes
  }
  await waitFor(async () => (await metric(embedded, 'corolla_requests_total{endpoint="chat",outcome="cancelled"}')) === before + 1, "the gateway to count the cancel");
  assert.equal(await metric(embedded, "corolla_open_requests"), 0);
});

test("models lists the one model the swarm serves", async () => {
  const list = await client(embedded).models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].owned_by, "corolla");
});

test("a swarm of three actor-node processes gives the single-process text, also through a gateway holding only the head", async () => {
  const { url, seed } = await threeNodeSwarm(model);
  const c = client(url);
  const r = await c.completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0 });
  assert.equal(r.choices[0].text, reference);
  const stream = await c.completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.equal(text, reference);
  const swarm = await (await fetch(url + "/api/swarm")).json();
  assert.deepEqual(swarm.servers.map((s) => s.name).sort(), ["a", "b", "c"]);
  // actor-chat with no model file: the head comes from the swarm, then from the cache.
  const env = { ...process.env, XDG_CACHE_HOME: dir + "/client-cache", XDG_STATE_HOME: dir + "/state" };
  for (const expected of [/fetched the head of/, /the head of .* from the cache/]) {
    const chat = spawnSync(app("actor-chat"), ["--peer", seed, "--temperature", "0", "-n", "24", "--raw"], { input: prompt + "\n", env, encoding: "utf8" });
    assert.equal(chat.status, 0, chat.stderr);
    assert.match(chat.stderr, expected);
    assert.equal(chat.stdout, reference + "\n\n");
  }
  const gateway = await headOnlyGateway(model, seed);
  const viaHead = await client(gateway).completions.create({ model: "demo", prompt, max_tokens: 24, temperature: 0 });
  assert.equal(viaHead.choices[0].text, reference);
});
