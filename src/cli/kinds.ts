import { KINDS, type Kind, PLURAL } from '../model/resources.js';

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
  if (kind === 'Endpoint') {
    if (!service) throw new Error('endpoints need --service');
    return `/api/v1/services/${encodeURIComponent(service)}/endpoints${name ? `/${encodeURIComponent(name)}` : ''}`;
  }
  return `/api/v1/${PLURAL[kind]}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export const KIND_WORDS = [...KINDS.map((k) => PLURAL[k]), ...KINDS.map((k) => k.toLowerCase()), ...Object.keys(ALIASES)];
