import { describe, expect, it } from 'vitest';
import { serialQueue } from './serial.js';
import { sleep } from './wait.js';

describe('serialQueue', () => {
  it('runs tasks one at a time in call order; a failure does not stop the next', async () => {
    const oneAtATime = serialQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, ms: number, fail = false) =>
      oneAtATime(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await sleep(ms);
        log.push(`end ${name}`);
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task('a', 30), task('b', 5, true), task('c', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
