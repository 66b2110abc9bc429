import { existsSync } from 'node:fs';
import { UserError } from '../errors/index.js';
import { parseKubeadmConfig, type KubeadmFileConfig } from '../kubeadm/kubeadm-config.js';
import { readInputText } from './read-input.js';

/** A --config file: read here (I/O), parsed and validated by the pure kubeadm code. */
export function loadKubeadmConfig(file: string): KubeadmFileConfig {
  if (!existsSync(file)) throw new UserError('config file not found', { file });
  return parseKubeadmConfig(readInputText(file, 'config file'), file);
}
