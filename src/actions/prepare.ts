import { connectPhase, factsPhase, validateHostsPhase } from '../phases/connect.js';
import { usersPhase } from '../phases/users.js';
import { hostPrepPhase } from '../phases/host-prep.js';
import { runtimePhase } from '../phases/runtime.js';
import type { Phase } from '../phases/phase.js';

/** Everything a host needs before Kubernetes: reused by init and join. */
export const PREPARE_PHASES: Phase[] = [
  connectPhase,
  factsPhase,
  validateHostsPhase,
  usersPhase,
  hostPrepPhase,
  runtimePhase,
];
