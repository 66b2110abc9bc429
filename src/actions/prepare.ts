import { connectPhase, factsPhase, validateHostsPhase } from '../phases/connect.js';
import { usersPhase } from '../phases/users.js';
import { hostPrepPhase } from '../phases/host-prep.js';
import { runtimePhase } from '../phases/runtime.js';
import type { Phase } from '../phases/phase.js';
import type { Bundle } from '../artifacts/bundle.js';

/** Everything a host needs before Kubernetes: reused by init and join. The bundle may provide the runtime. */
export function preparePhases(bundle?: Bundle): Phase[] {
  return [connectPhase, factsPhase, validateHostsPhase, usersPhase, hostPrepPhase, runtimePhase(bundle)];
}
