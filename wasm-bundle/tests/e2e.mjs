// End-to-end test of the web bundle in a real headless Chromium: serves wasm-bundle/ on
// 127.0.0.1, opens the demo page, picks audio files, plays one and checks that PCM chunks
// arrived from the worker and were scheduled gaplessly, then pauses, seeks and stops, and
// saves a screenshot. Run by ./scripts/test after ./scripts/build-web.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, '..', 'tests', 'conformance', 'fixtures', 'audio');
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json',
};

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (path.includes('..')) { res.writeHead(400).end(); return; }
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  const started = Date.now();
  await page.goto(`${base}/demo/index.html`);
  await page.waitForFunction(() => window.tonearm?.ready === true, null, { timeout: 30000 });
  const ready = Date.now() - started;

  await page.setInputFiles('#files', [
    join(fixtures, '02 pluck.mp3'),
    join(fixtures, '01 chord.flac'),
    join(root, 'package.json'),
  ]);
  // Listed by the local provider plugin in the worker: the two audio files, not the JSON.
  await page.waitForFunction(() => document.querySelectorAll('#tracks tbody tr').length === 2, null, { timeout: 15000 });
  const listed = await page.locator('#tracks tbody td:first-child').allTextContents();
  assert.deepEqual(listed.sort(), ['01 chord.flac', '02 pluck.mp3']);

  const clicked = Date.now();
  await page.locator('#tracks tbody tr', { hasText: '02 pluck.mp3' }).locator('button').click();
  await page.waitForFunction(() => window.tonearm.scheduler.stats.chunksScheduled >= 1, null, { timeout: 15000 });
  const firstChunk = Date.now() - clicked;
  // The 1.5 s MP3 is six or seven quarter-second chunks, all played back to back.
  await page.waitForFunction(() => window.tonearm.scheduler.stats.chunksPlayed >= 5, null, { timeout: 15000 });
  const stats = await page.evaluate(() => ({ ...window.tonearm.scheduler.stats }));
  assert.ok(stats.framesScheduled >= 44100, `a second and more was scheduled: ${JSON.stringify(stats)}`);
  assert.equal(stats.chunksReceived, stats.chunksScheduled, 'every chunk was scheduled');

  // Seek back and play again; then stop.
  await page.locator('#seek').click();
  await page.waitForFunction((n) => window.tonearm.scheduler.stats.chunksScheduled > n, stats.chunksScheduled, { timeout: 15000 });
  await page.locator('#stop').click();
  const status = await page.locator('#status').textContent();
  assert.match(status, /playing 02 pluck\.mp3 with symphonia/);
  assert.match(status, /seeked to frame \d+/);

  await mkdir(join(root, 'test-results'), { recursive: true });
  await page.screenshot({ path: join(root, 'test-results', 'demo.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no errors in the page or the worker');
  console.log(`web e2e: ok (worker ready in ${ready} ms, first PCM chunk ${firstChunk} ms after play; ${JSON.stringify(stats)})`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
