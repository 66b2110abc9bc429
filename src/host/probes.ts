import type { Host } from './host.js';

/** klog's line header (severity, date, time, thread, file:line): left out so a repeated message is not "progress". */
const KLOG_HEADER = /^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]*\] /;

/** The last distinct messages of a log, without klog headers, newest last. */
export function lastMessages(log: string, count = 3): string[] {
  const lines = log
    .split('\n')
    .map((l) => l.replace(KLOG_HEADER, '').trim())
    .filter(Boolean);
  const distinct: string[] = [];
  for (const line of lines.reverse()) {
    if (!distinct.includes(line)) distinct.push(line);
    if (distinct.length === count) break;
  }
  return distinct.reverse().map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
}

/**
 * What a host's kubelet is doing: its service state and its last log messages. Used by waits as their
 * progress signal and, when a wait fails, as what the host was stuck on.
 */
export async function kubeletProbe(host: Host): Promise<string> {
  const r = await host.sudo(
    'systemctl show kubelet -p ActiveState -p SubState --value | paste -sd/ -; ' +
      'journalctl -u kubelet -n 40 --no-pager -o cat 2>/dev/null; true',
    { step: 'inspect kubelet', allowFailure: true, timeoutMs: 30_000 },
  );
  const [state, ...log] = r.stdout.split('\n');
  const messages = lastMessages(log.join('\n'));
  return `kubelet ${state.trim() || 'unknown'}${messages.length ? `, last messages: ${messages.join(' / ')}` : ''}`;
}
