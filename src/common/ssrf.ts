import { isIP } from 'node:net';

const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '169.254.170.2']);

/** Why a target must not be called (health probes, webhooks) (link-local and cloud metadata ranges), or undefined. */
export function refusedTarget(address: string, allowLinkLocal: boolean): string | undefined {
  if (allowLinkLocal) return undefined;
  if (METADATA.has(address)) return `${address} is a cloud metadata address`;
  if (isIP(address) === 4 && address.startsWith('169.254.')) return `${address} is link-local`;
  if (isIP(address) === 6 && /^fe[89ab][0-9a-f]:/i.test(address)) return `${address} is link-local`;
  return undefined;
}

