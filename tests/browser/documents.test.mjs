// Tracking and revocation on the administration site, in Debian's Chromium
// against `openrms demo`: alice protects a file for bob with the `openrms`
// client, bob opens it and the demo's user is refused; then an administrator
// finds it on the Documents page by its owner, reads its license requests,
// revokes it, and bob's next request is refused "revoked by admin:admin".
// Screenshots: documents-NN-*.png under $OPENRMS_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bin, startSession } from './demo.mjs';

let session, demoInfo;
const passwords = { alice: 'alice-Quarterly-2027!', bob: 'bob-Quarterly-2027!' };

before(async () => {
  session = await startSession('documents');
  demoInfo = session.demoInfo;
  const server = path.join(session.demoDir, 'server');
  for (const [name, password] of Object.entries(passwords)) {
    execFileSync(bin, ['user', 'add', name, '--dir', server],
      { env: { ...process.env, OPENRMS_USER_PASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  passwords.user = demoInfo.user.split(' ')[1];
});

after(async () => {
  await session?.stop();
});

// The `openrms` licensing client as `user`: its exit code and output.
function client(user, args) {
  const r = spawnSync(bin, [...args, '--server', demoInfo['rms-url'], '--user', user,
    '--tls-ca', demoInfo['tls-ca']], {
    env: { ...process.env, OPENRMS_PASSWORD: passwords[user] }, encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const cells = async (row) => (await row.locator('td').allInnerTexts()).map((t) => t.trim());

test('an administrator tracks a document and revokes it', async () => {
  const plain = path.join(session.work, 'report.txt');
  const pfile = path.join(session.work, 'report.pfile');
  writeFileSync(plain, 'the quarterly numbers\n');
  const protectedFile = client('alice', ['protect', plain, pfile, '--rights', 'bob:VIEW']);
  assert.equal(protectedFile.code, 0, protectedFile.err);
  const opened = client('bob', ['open', pfile, path.join(session.work, 'bob.txt')]);
  assert.equal(opened.code, 0, opened.err);
  const refused = client('user', ['open', pfile, path.join(session.work, 'user.txt')]);
  assert.notEqual(refused.code, 0, 'the demo user has no right to the file');

  const page = await session.newPage();
  await session.logOn(page, 'admin');
  await page.getByRole('link', { name: 'Track and revoke documents' }).click();
  await page.getByRole('heading', { name: 'Documents', exact: true }).waitFor();
  // Search by the owner.
  await page.getByLabel('Content ID, owner or user').fill('alice');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: /Documents of alice/ }).waitFor();
  const rows = page.locator('#documents tbody tr');
  assert.equal(await rows.count(), 1);
  const row = await cells(rows.first());
  const contentId = row[0];
  assert.match(contentId, /^\{[0-9a-f-]{36}\}$/);
  // content ID, cluster, owner, published, granted, refused, last request, state
  assert.equal(row[1], demoInfo['root-cluster']);
  assert.equal(row[2], 'alice');
  assert.match(row[3], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/, 'published online');
  assert.deepEqual([row[4], row[5]], ['1', '1']);
  assert.match(row[6], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  assert.equal(row[7], 'Active');
  await session.screenshot(page, 'documents');

  // The document's page: its requests, newest first.
  await page.getByRole('link', { name: contentId }).click();
  await page.getByRole('heading', { name: `Document ${contentId}` }).waitFor();
  assert.equal(new URL(page.url()).pathname,
    `/admin/documents/${demoInfo['root-cluster']}/${encodeURIComponent(contentId)}`);
  const requests = async () => {
    const all = await page.locator('#requests tbody tr').all();
    return Promise.all(all.map(cells));
  };
  // The node writes audit entries in batches (at most 100 ms after the
  // request): the newest entry, once it is of `operation`.
  const newest = async (operation) => {
    let row = (await requests())[0];
    for (let i = 0; i < 20 && row[4] !== operation; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await page.reload();
      row = (await requests())[0];
    }
    return row;
  };
  const before = await requests();
  // time, user, client address, node, operation, result, reason
  assert.deepEqual(before.map((r) => [r[1], r[2], r[4], r[5]]), [
    ['user', '127.0.0.1', 'use', 'AccessDenied'],
    ['bob', '127.0.0.1', 'use', 'AccessGranted'],
    ['alice', '127.0.0.1', 'publish', 'issued'],
  ]);
  assert.equal(before[1][6], 'VIEW');
  assert.notEqual(before[0][6], '', 'a refusal says why');
  assert.equal((await page.locator('#document-state').innerText()).trim(), 'Active');
  await session.screenshot(page, 'document');

  // Revoke.
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('The document was revoked').waitFor();
  assert.match(await page.locator('.notice.success').innerText(),
    /No node issues a license for it from now on \(within 2 s\)\. Licenses already issued live until they expire\./);
  assert.match((await page.locator('#document-state').innerText()).trim(),
    /^Revoked by admin:admin at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  assert.equal(await page.getByRole('button', { name: 'Revoke' }).count(), 0);
  const revokedRow = await newest('revoke');
  assert.match(await page.locator('.notice.success').innerText(), /The document was revoked/);
  assert.deepEqual([revokedRow[1], revokedRow[2], revokedRow[4], revokedRow[5]],
    ['admin:admin', '127.0.0.1', 'revoke', 'revoked']);
  await session.screenshot(page, 'document-revoked');

  // From now on (within the nodes' 2 s refresh) bob is refused.
  const deadline = Date.now() + 10000;
  let again;
  do {
    again = client('bob', ['open', pfile, path.join(session.work, 'bob-again.txt')]);
    if (again.code === 0) await new Promise((resolve) => setTimeout(resolve, 250));
  } while (again.code === 0 && Date.now() < deadline);
  assert.notEqual(again.code, 0, 'bob still opened the revoked file');
  assert.match(again.err, /access denied: revoked by admin:admin at /);

  // The refusal is on the document's page, and on the list.
  const latest = await newest('use');
  assert.deepEqual([latest[1], latest[4], latest[5]], ['bob', 'use', 'AccessDenied']);
  assert.match(latest[6], /^revoked by admin:admin at /);
  await page.getByRole('link', { name: 'Documents', exact: true }).click();
  await page.getByLabel('Content ID, owner or user').fill(contentId);
  await page.getByRole('button', { name: 'Search' }).click();
  const listed = await cells(page.locator('#documents tbody tr').first());
  assert.match(listed[7], /^Revoked by admin:admin at /);
  await page.context().close();
});

test('a search that finds nothing says what can be searched', async () => {
  const page = await session.newPage();
  await session.logOn(page, 'admin');
  await page.goto(new URL('documents?q=nobody', demoInfo['admin-site']).href);
  assert.match(await page.locator('#no-documents').innerText(),
    /^No document matches "nobody"\. Search by a content ID .* by the user name of a document's owner, or by the user name of someone who asked for a license\.$/);
  await page.context().close();
});
