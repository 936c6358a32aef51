// Opens the preview page in Debian's Chromium (headless, through playwright-core: no browser
// download) with `selftest` in the hash, waits for the page's own check, and prints it as one
// line of JSON. Used by crates/server/tests/preview.rs.
//
//   node preview/selftest.mjs 'http://127.0.0.1:8080/#layer=communes&service=wms&selftest'
import { chromium } from 'playwright-core';

const url = process.argv[2];
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('selftest').textContent.length > 0, null, {
    timeout: 30000,
  });
  const result = JSON.parse(await page.textContent('#selftest'));
  result.errors = errors;
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ error: String(error) }));
} finally {
  await browser.close();
}
