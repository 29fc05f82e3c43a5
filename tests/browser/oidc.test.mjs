// Administrators sign on through the organisation's identity provider: a
// real glewlwyd (OAuth2 / OpenID Connect, Debian's package) on loopback,
// started by tests/support/glewlwyd_fixture, and `openrms demo --oidc`
// trusting it. In Debian's Chromium: the logon page offers "Sign on with
// Glewlwyd"; glewlwyd's own login page takes the password; the authorization
// code flow (PKCE, state, nonce) comes back to /admin/oidc/callback; alice
// (group Administrators at glewlwyd) gets in, bob (Staff) is refused, and an
// answer for a sign-on this browser did not start is refused. The
// password logon stays beside the button for a break-glass administrator.
// Screenshots: oidc-NN-*.png under $OPENRMS_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSession } from './demo.mjs';

const fixture = process.env.OPENRMS_GLEWLWYD_FIXTURE;
assert.ok(fixture, 'set OPENRMS_GLEWLWYD_FIXTURE to the glewlwyd_fixture program');

let session, idp;

// The fixture's "key: value" lines, once it prints "ready".
function startGlewlwyd(dir, redirectUri) {
  return new Promise((resolve, reject) => {
    const child = spawn(fixture, [dir, redirectUri], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`glewlwyd did not start: ${out}`)), 60000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (/^ready$/m.test(out)) {
        clearTimeout(timer);
        const info = { child };
        for (const line of out.split('\n')) {
          const m = line.match(/^([a-z-]+): (.*)$/);
          if (m) info[m[1]] = m[2];
        }
        resolve(info);
      }
    });
    child.on('exit', (code) => reject(new Error(`glewlwyd_fixture exited with ${code}: ${out}`)));
  });
}

before(async () => {
  session = await startSession('oidc', {
    async prepare({ work, port }) {
      idp = await startGlewlwyd(path.join(work, 'glewlwyd'),
        `https://127.0.0.1:${port}/admin/oidc/callback`);
      const secret = path.join(work, 'oidc-client-secret');
      writeFileSync(secret, `${idp['client-secret']}\n`, { mode: 0o600 });
      const config = path.join(work, 'oidc.toml');
      writeFileSync(config, [
        '[[oidc]]',
        `issuer = "${idp.issuer}"`,
        'audience = "openid"',
        `ca_file = "${idp['ca-file']}"`,
        `client_id = "${idp['client-id']}"`,
        `client_secret_file = "${secret}"`,
        'name = "Glewlwyd"',
        '',
      ].join('\n'));
      return {
        demoArgs: ['--oidc', config],
        trust: [idp['ca-file']],
        stop: () => new Promise((resolve) => {
          idp.child.once('exit', resolve);
          idp.child.stdin.end();
        }),
      };
    },
  });
});

after(async () => {
  await session?.stop();
});

// From the admin site's logon page through glewlwyd's login page and back.
async function signOn(page, who) {
  const [user, password] = idp[who].split(' ');
  await page.goto(session.demoInfo['admin-site']);
  await page.getByRole('link', { name: 'Sign on with Glewlwyd' }).click();
  await page.waitForURL((url) => url.href.startsWith(new URL(idp.issuer).origin));
  assert.equal(new URL(page.url()).pathname, '/login.html');
  await page.getByLabel('Login').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'OK' }).click();
  // glewlwyd asks the signed-on user to go on to the client.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.href.startsWith(session.demoInfo['admin-site']));
}

test('the logon page offers the identity provider beside the password form', async () => {
  const page = await session.newPage();
  await page.goto(session.demoInfo['admin-site']);
  assert.equal(new URL(page.url()).pathname, '/admin/logon');
  const link = page.getByRole('link', { name: 'Sign on with Glewlwyd' });
  const href = new URL(await link.getAttribute('href'), page.url());
  assert.equal(href.pathname, '/admin/oidc/start');
  assert.equal(href.searchParams.get('provider'), '0');
  assert.equal(href.searchParams.get('next'), '/admin/');
  // Break glass: the local password logon is still there.
  assert.equal(await page.getByLabel('User name').count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Log on' }).count(), 1);
  await session.screenshot(page, 'logon-page');
  // The request the browser is sent with.
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth`)),
    link.click(),
  ]);
  const auth = new URL(request.url());
  assert.equal(auth.searchParams.get('response_type'), 'code');
  assert.equal(auth.searchParams.get('client_id'), 'openrms');
  assert.equal(auth.searchParams.get('scope'), 'openid');
  assert.equal(auth.searchParams.get('redirect_uri'), `${new URL(session.demoInfo['admin-site']).origin}/admin/oidc/callback`);
  assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  assert.match(auth.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(auth.searchParams.get('state'), /^[0-9a-f]{32}$/);
  assert.match(auth.searchParams.get('nonce'), /^[0-9a-f]{32}$/);
  await page.getByLabel('Login').waitFor();
  await session.screenshot(page, 'glewlwyd-login');
  await page.context().close();
});

test('an administrator signs on through the identity provider', async () => {
  const page = await session.newPage();
  await signOn(page, 'alice');
  assert.equal(new URL(page.url()).pathname, '/admin/');
  await page.getByRole('heading', { name: 'Global Administration', exact: true }).first().waitFor();
  assert.match(await page.locator('body').innerText(), /Signed in as alice@example\.test/);
  // The session cookie is the site's own, Secure, HttpOnly and Strict; the
  // sign-on's cookie is gone once used.
  const cookies = await page.context().cookies();
  const sessionCookie = cookies.find((c) => c.name === 'openrms_session');
  assert.ok(sessionCookie, 'a session cookie');
  assert.deepEqual([sessionCookie.secure, sessionCookie.httpOnly, sessionCookie.sameSite],
    [true, true, 'Strict']);
  assert.equal(cookies.find((c) => c.name === 'openrms_oidc'), undefined);
  await session.screenshot(page, 'signed-on');
  // The site works as for any administrator, and logging off ends it.
  await page.getByRole('link', { name: 'Manage rights policy templates' }).click();
  await page.getByRole('heading', { name: 'Rights policy templates' }).first().waitFor();
  await page.getByRole('button', { name: 'Log off' }).click();
  await page.getByLabel('User name').waitFor();
  await page.goto(session.demoInfo['admin-site']);
  assert.equal(new URL(page.url()).pathname, '/admin/logon');
  await page.context().close();
});

test('a user outside Administrators is refused after signing on', async () => {
  const page = await session.newPage();
  await signOn(page, 'bob');
  await page.getByRole('heading', { name: 'Access denied' }).first().waitFor();
  assert.match(await page.locator('body').innerText(),
    /bob@example\.test is not a member of the Administrators group\. Only administrators may use this site\./);
  assert.equal((await page.context().cookies()).find((c) => c.name === 'openrms_session'), undefined);
  await session.screenshot(page, 'refused');
  await page.context().close();
});

test('an answer for a sign-on this browser did not start is refused', async () => {
  const page = await session.newPage();
  const callback = new URL('/admin/oidc/callback?state=0123&code=stolen', session.demoInfo['admin-site']);
  const response = await page.goto(callback.href);
  assert.equal(response.status(), 400);
  assert.match(await page.locator('.notice').innerText(),
    /the sign-on expired or was started in another browser; please try again/);
  // Started here, but answered with another state: refused too.
  await page.goto(session.demoInfo['admin-site']);
  await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth`)),
    page.getByRole('link', { name: 'Sign on with Glewlwyd' }).click(),
  ]);
  const forged = await page.goto(callback.href);
  assert.equal(forged.status(), 400);
  assert.match(await page.locator('.notice').innerText(),
    /the identity provider's answer is not for the sign-on this browser started \(its state differs\); please try again/);
  await session.screenshot(page, 'state-refused');
  await page.context().close();
});
