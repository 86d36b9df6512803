import { createHash } from 'node:crypto';
import { type LabelRequirement, matchesSelector } from '../registry/label-selector.js';
import type { ConfigRevisions, ConfigSpec, Resource } from '../model/resources.js';

/** Who is asking for a config: what a gray target is evaluated on. */
export interface Instance {
  id: string;
  labels: Record<string, string>;
}

/** What one instance should hold of one config. */
export interface Effective {
  revision: number;
  gray: boolean;
  content: string;
}

/**
 * The instance's place in 0..9999 for one config: a stable hash of the config
 * and the instance id. An instance under 30 % (bucket < 3000) is also under
 * 50 %, so raising the percentage only adds instances. The config is part of
 * the hash so that every gray release does not pick the same instances first.
 */
export function grayBucket(configId: string, instanceId: string): number {
  return createHash('sha256').update(`${configId}\u0000${instanceId}`).digest().readUInt32BE(0) % 10000;
}

/**
 * Whether the gray target picks this instance: its labels match the selector
 * (when there is one) and its bucket is under the percentage (when there is
 * one). An anonymous instance (no id) is never picked by percentage.
 */
export function inGray(target: NonNullable<ConfigSpec['gray']>['target'], selector: LabelRequirement[] | undefined, configId: string, inst: Instance): boolean {
  if (selector && !matchesSelector(inst.labels, selector)) return false;
  if (target.percent !== undefined) {
    if (!inst.id) return false;
    if (grayBucket(configId, inst.id) >= target.percent * 100) return false;
  }
  return true;
}

/** What `inst` gets of `cfg`: the gray candidate when the target picks it, else the current content. */
export function effectiveFor(cfg: Resource<ConfigSpec>, selector: LabelRequirement[] | undefined, configId: string, inst: Instance): Effective {
  const revisions = (cfg.status.revisions as ConfigRevisions | undefined) ?? { content: cfg.version };
  const g = cfg.spec.gray;
  if (g && inGray(g.target, selector, configId, inst)) return { revision: revisions.gray ?? cfg.version, gray: true, content: g.content };
  return { revision: revisions.content, gray: false, content: cfg.spec.content };
}
