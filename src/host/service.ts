import { createHash } from 'node:crypto';
import { sha256Of, type DesiredFile } from '../ssh/files.js';
import { shq } from '../ssh/quote.js';
import type { Host } from './host.js';

/** Where kprov records, per unit, the sha256 of the configuration a service was last (re)started with. */
export const APPLIED_DIR = '/var/lib/kprov/applied';

export const appliedMarker = (unit: string) => `${APPLIED_DIR}/${unit}.sha256`;

/**
 * Shell printing one sha256 over the config files as they are now (path and content; a missing file counts). A
 * planned file (path -> the sha256 of the content about to be written) counts with that content instead: what the
 * digest will be once a run writes it, for a dry run to tell exactly whether a restart would follow.
 */
export function configDigestScript(paths: string[], planned: ReadonlyMap<string, string> = new Map()): string {
  const known = [...planned].filter(([p]) => paths.includes(p)).map(([p, sha]) => `${shq(p)}) echo ${sha};; `);
  return (
    `for f in ${paths.map(shq).join(' ')}; do printf '%s ' "$f"; ` +
    `case "$f" in ${known.join('')}*) if [ -f "$f" ]; then ${sha256Of('"$f"')}; else echo missing; fi;; ` +
    `esac; done | sha256sum | cut -d' ' -f1`
  );
}

export interface ServiceOptions {
  /** Restart even if the recorded configuration matches (a file outside configPaths changed in this run). */
  force?: boolean;
  /** Why, for the change line when forced. */
  reason?: string;
  /** Files this run writes (or, in a dry run, would write): a dry run counts them as written. */
  planned?: DesiredFile[];
  /** The unit file changed: systemd reloads it (with the restart, when one follows). */
  reload?: boolean;
}

/**
 * Enable the unit, and make the running service match its configuration files: start it when it is not
 * active, restart it when the configuration on disk is not the one it was last (re)started with. That is
 * recorded after each successful (re)start as a sha256 over configPaths, so a run interrupted between
 * writing a file and restarting (or a config edited by hand) converges on the next run, whatever changed in
 * it; clocks play no part. A service kprov never restarted (no record yet) is restarted once.
 */
export async function ensureServiceCurrent(
  host: Host,
  unit: string,
  configPaths: string[],
  opts: ServiceOptions = {},
): Promise<void> {
  const u = shq(unit);
  const marker = shq(appliedMarker(unit));
  const planned = new Map(
    host.dryRun ? (opts.planned ?? []).map((f) => [f.path, createHash('sha256').update(f.content).digest('hex')]) : [],
  );
  const state = await host.sudo(
    `systemctl is-enabled ${u} 2>/dev/null || true; systemctl is-active ${u} 2>/dev/null || true; ` +
      `cat ${marker} 2>/dev/null || echo none; ${configDigestScript(configPaths, planned)}`,
    { step: `inspect ${unit}` },
  );
  const [enabled, active, applied, current] = state.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim());
  let why: string | undefined;
  if (active !== 'active') why = `start ${unit}`;
  else if (opts.force) why = `restart ${unit}${opts.reason ? ` (${opts.reason})` : ''}`;
  else if (applied !== current) {
    why =
      applied === 'none'
        ? `restart ${unit} (not yet started by kprov with its configuration)`
        : `restart ${unit} (it runs with an older ${configPaths.join(', ')})`;
  }
  // What systemd has to do runs as one command (every systemctl call that reloads costs a fifth of a second); each
  // action is still its own change line, in the order they happen.
  const lines: string[] = [];
  const commands: string[] = [];
  if (enabled !== 'enabled') {
    lines.push(`enable ${unit}`);
    commands.push(`systemctl enable ${why || opts.reload ? '--no-reload ' : ''}${u}`);
  }
  if (opts.reload) {
    lines.push('reload systemd units');
    if (!why) commands.push('systemctl daemon-reload');
  }
  if (why) {
    lines.push(why);
    commands.push(
      `d=$(${configDigestScript(configPaths)}); systemctl daemon-reload; systemctl restart ${u}; ` +
        `mkdir -p -m 0755 ${shq(APPLIED_DIR)}; printf '%s\\n' "$d" > ${marker}`,
    );
  }
  const step = why
    ? `${active === 'active' ? 'restart' : 'start'} ${unit}`
    : opts.reload
      ? 'daemon-reload'
      : `enable ${unit}`;
  for (const [i, line] of lines.entries())
    await host.change(line, async () => {
      if (i === lines.length - 1) await host.sudo(`set -e; ${commands.join('; ')}`, { step });
    });
}
