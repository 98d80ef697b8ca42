// What the JavaScript client tests share: Corolla's programs started as a user would, on
// ports they choose themselves (0) and print, and torn down at the end.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const binaryDir = process.env.COROLLA_BINARY_DIR;
if (!binaryDir) throw new Error("COROLLA_BINARY_DIR is not set (ctest sets it)");
export const app = (name) => path.join(binaryDir, "apps", name);

const running = [];

// Starts `program`, resolves with {child, match} once a line of its output matches `pattern`.
export function start(program, args, pattern, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GOMP_SPINCOUNT: "10000" },
    });
    running.push(child);
    let output = "";
    const timer = setTimeout(() => reject(new Error(`${program} did not print ${pattern} in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (data) => {
      output += data.toString();
      const match = output.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${program} exited (${code}) before printing ${pattern}:\n${output}`));
    });
  });
}

export function stopAll() {
  for (const child of running) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  running.length = 0;
}

export function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), "corolla-js-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A model-maker model (stories260K's shape, seeded random weights): no download needed.
export function makeModel(dir, seed = 5) {
  const file = path.join(dir, `model-${seed}.gguf`);
  execFileSync(app("corolla"), ["gguf", "make", "--preset", "stories260k", "--type", "q8_0", "--seed", String(seed), "-o", file]);
  return file;
}

// The single-process generator's continuation of `prompt` at temperature 0.
export function greedyText(model, prompt, maxTokens) {
  const out = execFileSync(app("corolla"), ["generate", "--model", model, "--prompt", prompt, "--max-tokens", String(maxTokens), "--temperature", "0"], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  if (!out.startsWith(prompt)) throw new Error(`corolla generate did not echo the prompt: ${out}`);
  return out.slice(prompt.length).replace(/\n$/, "");
}

// Three actor-node processes splitting the 5 blocks; the first serves the HTTP face.
export async function threeNodeSwarm(model) {
  const common = ["--model", model, "--port", "0", "--throughput-cache", "none", "--balance", "off"];
  const a = await start(app("actor-node"), [...common, "--name", "a", "--span", "0:2", "--http", "127.0.0.1:0"], /serving the OpenAI API on (http:\/\/[0-9.:]+)/);
  const seed = a.output().match(/listening on ([0-9.]+:[0-9]+)/)[1];
  await start(app("actor-node"), [...common, "--name", "b", "--span", "2:4", "--seed", seed], /joined the swarm/);
  await start(app("actor-node"), [...common, "--name", "c", "--span", "4:5", "--seed", seed], /joined the swarm/);
  const url = a.match[1];
  await waitFor(async () => (await fetch(url + "/health")).status === 200, "the swarm to cover the model");
  return { url, seed };
}

// A gateway without blocks (span = none) that holds only the model's head file.
export async function headOnlyGateway(model, seed) {
  const head = model.replace(/\.gguf$/, "-head.gguf");
  execFileSync(app("corolla"), ["gguf", "head", model, "-o", head]);
  const g = await start(app("actor-node"), ["--model", head, "--span", "none", "--seed", seed, "--http", "127.0.0.1:0", "--name", "gw"], /serving the OpenAI API on (http:\/\/[0-9.:]+)/);
  const url = g.match[1];
  await waitFor(async () => (await fetch(url + "/health")).status === 200, "the gateway to see the swarm cover the model");
  return url;
}

export async function waitFor(check, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Reads a counter of /metrics (0 when absent).
export async function metric(url, line) {
  const text = await (await fetch(url + "/metrics")).text();
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found ? Number(found.slice(line.length + 1)) : 0;
}
