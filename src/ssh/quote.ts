/**
 * POSIX shell quoting. The remote /bin/sh may be dash, so only single quotes are used:
 * everything inside them is literal, and a single quote is written as '\''.
 */
export function shq(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quote each argument and join them into one command line. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shq).join(' ');
}
