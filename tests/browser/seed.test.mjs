// The seed procedure, "To Renew a Server Licensor Certificate", steps 2-16,
// in a real browser: Debian's Chromium driven by Playwright, against
// `openrms demo` on loopback. The browser trusts the demo's TLS root through
// its own NSS database (no certificate errors are ignored). Every step saves
// a screenshot under $OPENRMS_ARTIFACTS (default: test-artifacts/browser).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bin, startSession } from './demo.mjs';

let session, demoInfo, demoDir, work;

before(async () => {
  session = await startSession();
  ({ demoInfo, demoDir, work } = session);
});

after(async () => {
  await session?.stop();
});

const newPage = () => session.newPage();
const logOn = (page, who) => session.logOn(page, who);
const screenshot = (page, name) => session.screenshot(page, name);

async function openCluster(page, name) {
  await page.goto(demoInfo['admin-site']);
  await page.getByRole('row', { name: new RegExp(name + ' ') })
    .getByRole('link', { name: 'Administer RMS on this Web site' }).click();
  await page.getByRole('heading', { name: 'Cluster resources' }).waitFor();
}

const expiration = async (page) => (await page.locator('#slc-expires').innerText()).trim();

test('offline renewal, seed steps 2-16', async () => {
  const page = await newPage();
  await page.goto(demoInfo['admin-site']);
  await page.getByRole('button', { name: 'Log on' }).waitFor();
  await screenshot(page, 'logon');
  await logOn(page, 'admin');
  // Step 2: the Global Administration page.
  await page.getByRole('heading', { name: 'Global Administration' }).waitFor();
  await screenshot(page, 'global-administration');
  // Step 3: Administer RMS on this Web site.
  await openCluster(page, demoInfo['root-cluster']);
  const before = await expiration(page);
  assert.match(before, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  assert.equal((await page.locator('#slc-state').innerText()).trim(), 'renewal due');
  await page.getByText('Renewal is due', { exact: true }).waitFor();
  await screenshot(page, 'administration-renewal-due');
  // Step 4: the Renew dialog.
  await page.getByRole('link', { name: 'Renew' }).click();
  await page.getByRole('dialog').waitFor();
  await screenshot(page, 'renew-dialog');
  // Steps 6-9: Offline, Export, save the request file.
  await page.getByLabel('Offline').check();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `${demoInfo['root-cluster']}RenewalRequest.xml`);
  const requestFile = path.join(work, download.suggestedFilename());
  await download.saveAs(requestFile);
  await screenshot(page, 'offline-export');
  // Steps 10-11: submit it on the enrollment service's web site.
  await page.goto(demoInfo['enrollment-site']);
  await screenshot(page, 'enrollment-site');
  await page.getByLabel('Request file').setInputFiles(requestFile);
  await page.getByRole('button', { name: 'Submit request' }).click();
  await page.getByText('Server licensor certificate renewed').waitFor();
  await screenshot(page, 'enrollment-issued');
  const [certDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#download').click(),
  ]);
  const certFile = path.join(work, certDownload.suggestedFilename());
  await certDownload.saveAs(certFile);
  // Steps 12-14: back on the server: Renew, Browse, Import.
  await openCluster(page, demoInfo['root-cluster']);
  await page.getByRole('link', { name: 'Renew' }).click();
  await page.getByLabel('Offline').check();
  await page.getByLabel('Certificate file').setInputFiles(certFile);
  await page.getByRole('button', { name: 'Import' }).click();
  // Step 15: confirm.
  await page.getByRole('heading', { name: 'Import this certificate?' }).waitFor();
  await screenshot(page, 'confirm-import');
  await page.getByRole('button', { name: 'Yes' }).click();
  // Step 16: the new expiration date.
  await page.getByText('The server licensor certificate was renewed').waitFor();
  const afterDate = await expiration(page);
  assert.ok(afterDate > before, `expiration ${afterDate} should be after ${before}`);
  assert.equal((await page.locator('#new-expiration').innerText()).trim(), afterDate);
  assert.equal((await page.locator('#slc-state').innerText()).trim(), 'valid');
  await screenshot(page, 'renewed-offline');
  await page.context().close();
});

// Runs after the offline renewal: the licensing-only cluster's SLC was
// bounded by its root's 20-day one, so renewing it now shows a later date.
test('online renewal', async () => {
  const page = await newPage();
  await logOn(page, 'admin');
  await openCluster(page, demoInfo['licensing-cluster']);
  const before = await expiration(page);
  await page.getByRole('link', { name: 'Renew' }).click();
  await page.getByLabel('Online').check();
  await screenshot(page, 'renew-online-dialog');
  await page.getByRole('button', { name: 'Renew' }).click();
  await page.getByText('The server licensor certificate was renewed').waitFor();
  const afterDate = await expiration(page);
  assert.ok(afterDate > before, `expiration ${afterDate} should be after ${before}`);
  await screenshot(page, 'renewed-online');
  await page.context().close();
});

test('rights policy templates are managed on the administration site', async () => {
  const page = await newPage();
  await logOn(page, 'admin');
  await page.getByRole('link', { name: 'Manage rights policy templates' }).click();
  await page.getByRole('heading', { name: 'Rights policy templates' }).waitFor();
  await page.getByLabel('Name').fill('Board only');
  await page.getByLabel('Description').fill('The board may view and print');
  await page.getByLabel('Users and groups').fill('Board');
  await page.getByLabel('VIEW').check();
  await page.getByLabel('PRINT').check();
  await page.getByRole('button', { name: 'Add template' }).click();
  const row = page.getByRole('row', { name: /Board only/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Board: PRINT, VIEW/);
  assert.match(await page.locator('#templates').innerText(), /Company Confidential/);
  await screenshot(page, 'templates');
  await page.context().close();
});

test('a non-administrator is refused', async () => {
  const page = await newPage();
  await logOn(page, 'user');
  await page.getByRole('heading', { name: 'Access denied' }).waitFor();
  assert.match(await page.locator('main').innerText(), /is not a member of the Administrators group/);
  await screenshot(page, 'access-denied');
  // And no session was made: the site still asks for a logon.
  await page.goto(demoInfo['admin-site']);
  await page.getByRole('button', { name: 'Log on' }).waitFor();
  await page.context().close();
});

test('an altered request is refused by the enrollment site', async () => {
  const page = await newPage();
  await logOn(page, 'admin');
  await openCluster(page, demoInfo['root-cluster']);
  await page.getByRole('link', { name: 'Renew' }).click();
  await page.getByLabel('Offline').check();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export' }).click(),
  ]);
  const file = path.join(work, 'altered.xml');
  await download.saveAs(file);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('<Name>CONTOSO-RMS</Name>', '<Name>CONTOSO-XXX</Name>'));
  await page.goto(demoInfo['enrollment-site']);
  await page.getByLabel('Request file').setInputFiles(file);
  await page.getByRole('button', { name: 'Submit request' }).click();
  await page.getByText('The request was refused').waitFor();
  assert.match(await page.locator('main').innerText(), /the file was changed after the cluster made it/);
  await screenshot(page, 'altered-request-refused');
  await page.context().close();
});

test("another cluster's certificate is refused on import", async () => {
  // The licensing-only cluster's certificate, issued by the root cluster.
  const server = path.join(demoDir, 'server');
  const pw = path.join(demoDir, 'demo-key-password');
  const req = path.join(work, 'lic-request.xml');
  const cert = path.join(work, 'lic-certificate.xml');
  execFileSync(bin, ['slc', 'export-request', '--dir', server, '--cluster', demoInfo['licensing-cluster'],
    '--out', req, '--password-file', pw]);
  execFileSync(bin, ['cluster', 'subenroll', req, '--dir', server, '--cluster', demoInfo['root-cluster'],
    '--out', cert, '--password-file', pw]);
  const page = await newPage();
  await logOn(page, 'admin');
  await openCluster(page, demoInfo['root-cluster']);
  const before = await expiration(page);
  await page.getByRole('link', { name: 'Renew' }).click();
  await page.getByLabel('Offline').check();
  await page.getByLabel('Certificate file').setInputFiles(cert);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('The certificate was not renewed').waitFor();
  assert.match(await page.locator('#error-detail').innerText(), /the certificate was issued for another key/);
  await screenshot(page, 'other-cluster-certificate-refused');
  await openCluster(page, demoInfo['root-cluster']);
  assert.equal(await expiration(page), before);
  await page.context().close();
});
