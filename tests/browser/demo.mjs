// What the browser tests share: `openrms demo` on free loopback ports, a
// Chromium whose profile trusts the demo's TLS root (and only that, so no
// certificate error is ever ignored), logging on, and screenshots under
// $OPENRMS_ARTIFACTS (default: test-artifacts/browser). Node 18 compatible.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const bin = process.env.OPENRMS_BINARY;
assert.ok(bin, 'set OPENRMS_BINARY to the openrms program');
export const artifacts = process.env.OPENRMS_ARTIFACTS ?? path.resolve('test-artifacts/browser');
mkdirSync(artifacts, { recursive: true });

// Two consecutive free loopback ports: the admin site's and the enrollment site's.
async function freePortPair() {
  const listen = (p) => new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(p, '127.0.0.1', () => {
      const got = server.address().port;
      server.close(() => resolve(got));
    });
  });
  for (let i = 0; i < 20; i += 1) {
    const p = await listen(0);
    if (p && p < 65535 && (await listen(p + 1))) return p;
  }
  throw new Error('no two consecutive free ports');
}

function startDemo(demoDir, port, demoArgs) {
  return new Promise((resolve, reject) => {
    const demo = spawn(bin, ['demo', '--dir', demoDir, '--port', String(port), ...demoArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`demo did not start: ${out}`)), 120000);
    demo.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('serving until interrupted')) {
        clearTimeout(timer);
        const info = {};
        for (const line of out.split('\n')) {
          const m = line.match(/^([a-z-]+): (.*)$/);
          if (m) info[m[1]] = m[2];
        }
        resolve({ demo, info });
      }
    });
    demo.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
  });
}

// A browser profile that trusts the demo's TLS root (and the other roots
// given), and only those.
function trustingHome(work, caFiles) {
  const home = path.join(work, 'home');
  const nssdb = path.join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password']);
  caFiles.forEach((caFile, i) => {
    execFileSync('certutil', ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', `openrms-test-${i}`, '-i', caFile]);
  });
  return home;
}

// Starts the demo and the browser. `prefix` names the screenshots of one
// test file: "" gives 01-name.png, "documents" documents-01-name.png.
// `prepare({ work, port })`, when given, runs before the demo starts (on
// `port`) and may answer { demoArgs, trust: [CA files], stop() }.
export async function startSession(prefix = '', { prepare } = {}) {
  const work = mkdtempSync(path.join(tmpdir(), 'openrms-browser-'));
  const demoDir = path.join(work, 'demo');
  const port = await freePortPair();
  const extra = prepare ? await prepare({ work, port }) : {};
  const { demo, info } = await startDemo(demoDir, port, extra.demoArgs ?? []);
  const home = trustingHome(work, [info['tls-ca'], ...(extra.trust ?? [])]);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    env: { ...process.env, HOME: home },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let shot = 0;
  const session = {
    work,
    demoDir,
    demoInfo: info,
    browser,
    async newPage() {
      const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
      return context.newPage();
    },
    async logOn(page, who) {
      const [user, password] = info[who].split(' ');
      await page.goto(info['admin-site']);
      await page.getByLabel('User name').fill(user);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Log on' }).click();
    },
    async screenshot(page, name) {
      shot += 1;
      const number = String(shot).padStart(2, '0');
      const file = path.join(artifacts, `${prefix ? `${prefix}-` : ''}${number}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async stop() {
      await browser.close();
      await new Promise((resolve) => {
        if (demo.exitCode !== null) return resolve();
        const timer = setTimeout(resolve, 10000);
        demo.once('exit', () => { clearTimeout(timer); resolve(); });
        demo.kill('SIGTERM');
      });
      await extra.stop?.();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return session;
}
