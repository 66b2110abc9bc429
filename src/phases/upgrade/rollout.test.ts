import { describe, expect, it } from 'vitest';
import { rolloutPending } from './rollout.js';

describe('addon rollout status (as kubectl rollout status reads it)', () => {
  it('a Deployment is done when the new generation is observed and every replica is updated and available', () => {
    const d = (status: object, generation = 2) => ({ metadata: { generation }, spec: { replicas: 2 }, status });
    expect(rolloutPending('Deployment', d({ observedGeneration: 1 }))).toBe('update not observed yet');
    expect(rolloutPending('Deployment', d({ observedGeneration: 2, updatedReplicas: 1, replicas: 3 }))).toBe(
      '1 of 2 replicas updated',
    );
    expect(rolloutPending('Deployment', d({ observedGeneration: 2, updatedReplicas: 2, replicas: 3 }))).toBe(
      '1 old replicas pending termination',
    );
    const done = d({ observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 });
    expect(rolloutPending('Deployment', done)).toBeUndefined();
  });

  it('a DaemonSet is done when every scheduled pod is updated and available', () => {
    const ds = (status: object) => ({ metadata: { generation: 1 }, status: { observedGeneration: 1, ...status } });
    expect(rolloutPending('DaemonSet', ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 2 }))).toBe(
      '2 of 3 pods updated',
    );
    const done = ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 });
    expect(rolloutPending('DaemonSet', done)).toBeUndefined();
    expect(rolloutPending('DaemonSet', undefined)).toBe('not found');
  });
});
