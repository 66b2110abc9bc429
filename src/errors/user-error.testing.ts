import { UserError } from './index.js';

/** The UserError fn throws (any other error is rethrown; no error fails the test). */
export function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}
