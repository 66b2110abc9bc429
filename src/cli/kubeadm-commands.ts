import type { Command } from 'commander';

/** kubeadm-equivalent commands (init, join, tokens, certificates) are registered here. */
export function registerKubeadmCommands(_program: Command, _setExit: (code: number) => void): void {}
