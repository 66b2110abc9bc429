/**
 * Run tasks one at a time, in call order, while callers run in parallel (hosts of one phase): a failed task does
 * not stop the ones queued after it. For steps a cluster takes one host at a time (etcd members, upgrades).
 */
export function serialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const next = tail.then(task);
    tail = next.catch(() => undefined);
    return next;
  };
}
