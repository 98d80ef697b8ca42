// The status page in a real browser (Debian's chromium, driven by Playwright): it loads,
// shows the three servers of a real swarm of actor-node processes and each block's
// throughput, and its chat box streams an answer through the API.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { stopAll, tempDir, makeModel, threeNodeSwarm } from "./support.mjs";

const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
after(stopAll);

test("the status page shows the swarm and its chat box streams an answer", { skip: !existsSync(browserPath) && `no browser at ${browserPath}` }, async () => {
  const { url } = await threeNodeSwarm(makeModel(tempDir(), 6));
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const failed = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => failed.push(String(e)));
    await page.goto(url + "/");
    await page.waitForFunction(() => document.querySelectorAll("tr.server").length === 3, null, { timeout: 15000 });
    const names = await page.$$eval("tr.server td:first-child", (tds) => tds.map((td) => td.textContent).sort());
    assert.deepEqual(names, ["a", "b", "c"]);
    assert.equal(await page.textContent("#coverage"), "covered");
    assert.equal(await page.locator("#chart rect.bar").count(), 5);
    await page.fill("#prompt", "Once upon a time");
    await page.fill("#max_tokens", "24");
    await page.click("#send");
    await page.waitForFunction(() => document.getElementById("chatstatus").textContent.startsWith("done"), null, { timeout: 15000 });
    assert.ok((await page.textContent("#answer")).length > 0, "the answer is empty");
    if (process.env.COROLLA_SCREENSHOT) await page.screenshot({ path: process.env.COROLLA_SCREENSHOT });
    assert.deepEqual(failed, []);
  } finally {
    await browser.close();
  }
});
