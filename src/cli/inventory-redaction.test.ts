import { describe, expect, it, vi, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.testing.js';
import { redactValue } from './inventory-view.js';

const run = runCli;
afterEach(() => vi.restoreAllMocks());

const dir = mkdtempSync(join(tmpdir(), 'kprov-redact-'));
const pub = join(dir, 'op.pub');
writeFileSync(join(dir, 'id_ed25519'), 'not read by the view\n');
writeFileSync(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n');
const PEM =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n';
const inventory = join(dir, 'inv.yaml');
writeFileSync(
  inventory,
  [
    'all:',
    '  vars:',
    `    sudo_user_public_key: ${pub}`,
    '    registry_auth: {username: bob, password: regpass-123}',
    '    aws_secret_access_key: awssecret-456',
    '    cloud: {credentials: {client: x, key: credkey-789}, region: eu}',
    `    deploy_key: ${JSON.stringify(PEM)}`,
    `    ansible_ssh_private_key_file: ${join(dir, 'id_ed25519')}`,
    '  children:',
    '    masters:',
    '      hosts:',
    '        m1: {ansible_host: 10.0.0.1, ansible_become_password: hunter22, kubelet_configuration: {maxPods: 50}}',
  ].join('\n'),
);

describe('audit: kprov inventory redacts secrets at any depth and by content', () => {
  for (const json of [true, false]) {
    it(`${json ? '--json' : 'text'} output shows no nested password, secret key or PEM private key`, async () => {
      const r = await run('inventory', inventory, ...(json ? ['--json'] : []));
      expect(r.code, r.err).toBe(0);
      const secrets = ['regpass-123', 'awssecret-456', 'credkey-789', 'hunter22', 'PRIVATE KEY', 'b3BlbnNzaC1rZXkt'];
      for (const secret of secrets) {
        expect(r.out, secret).not.toContain(secret);
      }
      expect(r.out).toContain('bob');
      expect(r.out).toContain(join(dir, 'id_ed25519'));
      expect(r.out).toContain('eu');
    });
  }

  it('redacts by name (containing password, secret, token, credential, private_key...) and by PEM content', () => {
    expect(
      redactValue({
        a: { b: [{ db_passwd: 'x' }] },
        vault_token: 't',
        my_credentials: { u: 1 },
        tls_private_key: 'k',
        note: `see ${PEM}`,
        ansible_ssh_private_key_file: '/k',
        port: 22,
      }),
    ).toEqual({
      a: { b: [{ db_passwd: '<redacted>' }] },
      vault_token: '<redacted>',
      my_credentials: '<redacted>',
      tls_private_key: '<redacted>',
      note: '<redacted>',
      ansible_ssh_private_key_file: '/k',
      port: 22,
    });
  });
});
