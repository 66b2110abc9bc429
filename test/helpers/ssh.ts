import { execFile } from 'node:child_process';

/** Run a command with the real OpenSSH client, independent of kprov's own SSH code. */
export function openssh(
  opts: { user: string; host: string; key: string; knownHosts: string },
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-i',
    opts.key,
    '-o',
    `UserKnownHostsFile=${opts.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    `${opts.user}@${opts.host}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
