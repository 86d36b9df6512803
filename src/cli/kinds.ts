import { KINDS, type Kind, PLURAL } from '../model/resources.js';
import { CliError } from './client.js';

const ALIASES: Record<string, Kind> = {
  svc: 'Service',
  ep: 'Endpoint',
  rt: 'Route',
  ro: 'Rollout',
  po: 'Policy',
  lis: 'Listener',
};

/** A kind as typed on the command line: Service, service, services, svc... */
export function kindOf(word: string): Kind | undefined {
  const w = word.toLowerCase();
  if (ALIASES[w]) return ALIASES[w];
  return KINDS.find((k) => k.toLowerCase() === w || PLURAL[k] === w);
}

/** The REST path of a kind (endpoints live under their service). */
export function pathOf(kind: Kind, name?: string, service?: string): string {
  if (kind === 'Config' && name) return configPath(configId(name));
  if (kind === 'Endpoint') {
    if (!service) throw new Error('endpoints need --service');
    return `/api/v1/services/${encodeURIComponent(service)}/endpoints${name ? `/${encodeURIComponent(name)}` : ''}`;
  }
  return `/api/v1/${PLURAL[kind]}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** A config's identity as typed on the command line: namespace/group/name. */
export interface ConfigId {
  namespace: string;
  group: string;
  name: string;
}

/** Parses `namespace/group/name`; anything else is a usage error (exit 2). */
export function configId(arg: string): ConfigId {
  const parts = arg.split('/');
  if (parts.length !== 3 || parts.some((p) => !p)) throw new CliError(`${JSON.stringify(arg)}: a config is namespace/group/name, e.g. prod/orders/checkout.yaml`, [], 2);
  const [namespace, group, name] = parts;
  return { namespace, group, name };
}

/** The REST path of one config, with an optional suffix such as /history. */
export const configPath = (id: ConfigId, suffix = ''): string => `/api/v1/configs/${[id.namespace, id.group, id.name].map(encodeURIComponent).join('/')}${suffix}`;

export const KIND_WORDS = [...KINDS.map((k) => PLURAL[k]), ...KINDS.map((k) => k.toLowerCase()), ...Object.keys(ALIASES)];
