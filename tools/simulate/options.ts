/**
 * Options of the fleet load simulator: defaults, command-line parsing and
 * validation. Every bad option is reported as an {@link OptionError} naming the
 * option, which the CLI turns into exit code 2.
 */
import { AppConfig } from '../../src/config/config.js';

/** The kinds of simulated xDS clients. */
export const CLIENT_KINDS = ['envoy-sotw', 'envoy-delta', 'grpc'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** The kinds of change the change script can make. */
export const CHANGE_KINDS = ['health', 'weight', 'service'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Everything a simulation run is configured by (all validated). */
export interface SimOptions {
  /** Services seeded into the catalogue. */
  services: number;
  /** Endpoints per service. */
  endpoints: number;
  /** Node groups (Envoy `node.cluster` values), one Listener set each. */
  groups: number;
  /** Measured proxies (ADS streams). */
  proxies: number;
  /** Worker processes holding the streams. */
  workers: number;
  /** Share of each client kind; weights, normalised to `proxies`. */
  mix: Partial<Record<ClientKind, number>>;
  /** Proxies per HTTP/2 connection. */
  streamsPerConnection: number;
  /** New streams per second over the whole fleet; 0 = all at once. */
  connectRate: number;
  /** Extra proxies that sync once and then stop reading. */
  slow: number;
  /** Changes made after the initial sync. */
  changes: number;
  /** Time between the starts of two changes (ms). */
  intervalMs: number;
  /** Change kinds, used round-robin. */
  script: ChangeKind[];
  /**
   * XDS_DEBOUNCE_QUIET_MS of a spawned control plane. The default is the
   * product's own default, so published figures are what a user gets.
   */
  debounceMs: number;
  /** Extra environment for a spawned control plane. */
  cpEnv: Record<string, string>;
  /** REST base URL of an existing control plane (then `xds` is required too). */
  api?: string;
  /** host:port of that control plane's xDS server. */
  xds?: string;
  /** Run the bare grpc-js floor after the Switchyard phase. */
  floor: boolean;
  /** Write every figure as JSON to this file. */
  json?: string;
  /** Whole measurements to repeat (medians are reported). */
  runs: number;
  /** Limit for the initial sync and for each change to converge (s). */
  timeoutS: number;
  /** Client-side delay between decoding a response and ACKing it (ms). */
  ackDelayMs: number;
  /** Progress line on stderr. */
  progress: boolean;
  /** Keep per-proxy ACK state in the result (for tests and debugging). */
  proxyState: boolean;
}

export const DEFAULTS: SimOptions = {
  services: 1000,
  endpoints: 10,
  groups: 1,
  proxies: 100,
  workers: 2,
  mix: { 'envoy-sotw': 100 },
  streamsPerConnection: 1,
  connectRate: 500,
  slow: 0,
  changes: 10,
  intervalMs: 1000,
  script: ['health', 'weight'],
  debounceMs: new AppConfig().XDS_DEBOUNCE_QUIET_MS,
  cpEnv: {},
  floor: true,
  runs: 1,
  timeoutS: 120,
  ackDelayMs: 0,
  progress: true,
  proxyState: false,
};

/** A bad option; `option` is its command-line name. */
export class OptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`--${option}: ${message}`);
  }
}

export const USAGE = `usage: npm run simulate -- [options]

catalogue     --services 1000 --endpoints 10 --groups 1
fleet         --proxies 100 --workers 2 --mix envoy-sotw=100 (kinds: ${CLIENT_KINDS.join(', ')})
              --protocol sotw|delta (all Envoy-like; instead of --mix)
              --streams-per-connection 1 --connect-rate 500 (0 = all at once) --slow 0
changes       --changes 10 --interval-ms 1000 --script health,weight (kinds: ${CHANGE_KINDS.join(', ')})
              --ack-delay-ms 0 (client waits this long before each ACK)
target        spawn one (default): --debounce-ms ${new AppConfig().XDS_DEBOUNCE_QUIET_MS} (the product default) --cp-env KEY=VALUE (repeatable)
              or an existing one: --api http://host:port --xds host:port
output        --json FILE --runs 1 --timeout-s 120 --no-floor --no-progress`;

const INT_OPTIONS: Record<string, { key: keyof SimOptions; min: number }> = {
  services: { key: 'services', min: 1 },
  endpoints: { key: 'endpoints', min: 1 },
  groups: { key: 'groups', min: 1 },
  proxies: { key: 'proxies', min: 1 },
  workers: { key: 'workers', min: 1 },
  'streams-per-connection': { key: 'streamsPerConnection', min: 1 },
  'connect-rate': { key: 'connectRate', min: 0 },
  slow: { key: 'slow', min: 0 },
  changes: { key: 'changes', min: 0 },
  'interval-ms': { key: 'intervalMs', min: 0 },
  'debounce-ms': { key: 'debounceMs', min: 0 },
  runs: { key: 'runs', min: 1 },
  'timeout-s': { key: 'timeoutS', min: 1 },
  'ack-delay-ms': { key: 'ackDelayMs', min: 0 },
};

function int(option: string, raw: string | undefined, min: number): number {
  if (raw === undefined || raw.startsWith('--')) throw new OptionError(option, 'needs a value');
  if (!/^\d+$/.test(raw.trim())) throw new OptionError(option, `"${raw}" is not ${min > 0 ? 'a positive' : 'a non-negative'} integer`);
  const n = Number(raw);
  if (n < min || !Number.isSafeInteger(n)) throw new OptionError(option, `must be >= ${min}, got ${raw}`);
  return n;
}

/** `envoy-sotw=80,envoy-delta=10,grpc=10` → weights by kind. */
export function parseMix(raw: string, option = 'mix'): Partial<Record<ClientKind, number>> {
  const out: Partial<Record<ClientKind, number>> = {};
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [kind, w] = part.split('=');
    if (!CLIENT_KINDS.includes(kind as ClientKind)) throw new OptionError(option, `unknown client kind "${kind}"; one of ${CLIENT_KINDS.join(', ')}`);
    if (w === undefined || !/^\d+(\.\d+)?$/.test(w)) throw new OptionError(option, `"${part}" needs a weight, like ${kind}=50`);
    out[kind as ClientKind] = (out[kind as ClientKind] ?? 0) + Number(w);
  }
  if (!Object.values(out).some((w) => w! > 0)) throw new OptionError(option, 'needs at least one kind with a weight above 0');
  return out;
}

function parseScript(raw: string): ChangeKind[] {
  const kinds = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!kinds.length) throw new OptionError('script', 'needs at least one change kind');
  for (const k of kinds) if (!CHANGE_KINDS.includes(k as ChangeKind)) throw new OptionError('script', `unknown change kind "${k}"; one of ${CHANGE_KINDS.join(', ')}`);
  return kinds as ChangeKind[];
}

/** Parses command-line arguments (without the node and script names). `--help` yields `help: true`. */
export function parseArgs(argv: string[]): { options: SimOptions; help: boolean } {
  const o: SimOptions = { ...DEFAULTS, mix: { ...DEFAULTS.mix }, cpEnv: {} };
  let protocol: string | undefined;
  let mixGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { options: o, help: true };
    if (!arg.startsWith('--')) throw new OptionError(arg, `unexpected argument "${arg}" (options start with --)`);
    let name = arg.slice(2);
    let value: string | undefined;
    if (name.includes('=')) [name, value] = [name.slice(0, name.indexOf('=')), name.slice(name.indexOf('=') + 1)];
    const take = () => {
      if (value !== undefined) return value;
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new OptionError(name, 'needs a value');
      i++;
      return v;
    };
    if (INT_OPTIONS[name]) {
      (o as unknown as Record<string, number>)[INT_OPTIONS[name].key] = int(name, take(), INT_OPTIONS[name].min);
      continue;
    }
    switch (name) {
      case 'mix':
        o.mix = parseMix(take());
        mixGiven = true;
        break;
      case 'protocol':
        protocol = take();
        if (protocol !== 'sotw' && protocol !== 'delta') throw new OptionError('protocol', `"${protocol}" is not sotw or delta`);
        break;
      case 'script':
        o.script = parseScript(take());
        break;
      case 'cp-env': {
        const kv = take();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new OptionError('cp-env', `"${kv}" is not KEY=VALUE`);
        o.cpEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case 'api':
        o.api = take();
        break;
      case 'xds':
        o.xds = take();
        break;
      case 'json':
        o.json = take();
        break;
      case 'floor':
        o.floor = true;
        break;
      case 'no-floor':
        o.floor = false;
        break;
      case 'no-progress':
        o.progress = false;
        break;
      default:
        throw new OptionError(name, 'unknown option (see --help)');
    }
  }
  if (protocol) {
    if (mixGiven) throw new OptionError('protocol', 'use either --protocol or --mix, not both');
    o.mix = { [protocol === 'delta' ? 'envoy-delta' : 'envoy-sotw']: 100 };
  }
  return { options: validateOptions(o), help: false };
}

/**
 * Completes and checks options given programmatically (same rules as the
 * command line). Unknown keys are refused so a typo does not go unnoticed.
 */
export function validateOptions(input: Partial<SimOptions>): SimOptions {
  for (const k of Object.keys(input)) if (!(k in DEFAULTS) && k !== 'api' && k !== 'xds' && k !== 'json') throw new OptionError(k, 'unknown option');
  const o: SimOptions = { ...DEFAULTS, ...input, mix: { ...(input.mix ?? DEFAULTS.mix) }, cpEnv: { ...(input.cpEnv ?? {}) } };
  for (const [flag, { key, min }] of Object.entries(INT_OPTIONS)) {
    const v = o[key] as number;
    if (!Number.isSafeInteger(v) || v < min) throw new OptionError(flag, `must be an integer >= ${min}, got ${v}`);
  }
  for (const [k, w] of Object.entries(o.mix)) {
    if (!CLIENT_KINDS.includes(k as ClientKind)) throw new OptionError('mix', `unknown client kind "${k}"; one of ${CLIENT_KINDS.join(', ')}`);
    if (typeof w !== 'number' || !(w >= 0)) throw new OptionError('mix', `weight of ${k} must be a number >= 0`);
  }
  if (!Object.values(o.mix).some((w) => w! > 0)) throw new OptionError('mix', 'needs at least one kind with a weight above 0');
  if (!o.script.length) throw new OptionError('script', 'needs at least one change kind');
  for (const k of o.script) if (!CHANGE_KINDS.includes(k)) throw new OptionError('script', `unknown change kind "${k}"`);
  if ((o.api === undefined) !== (o.xds === undefined)) throw new OptionError(o.api === undefined ? 'api' : 'xds', '--api and --xds go together');
  if (o.api !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(o.api)) throw new OptionError('api', `"${o.api}" is not a URL like http://host:port`);
    o.api = o.api.replace(/\/+$/, '');
    if (Object.keys(o.cpEnv).length) throw new OptionError('cp-env', 'only applies to a spawned control plane, not with --api');
    if (o.runs > 1 && o.script.includes('service')) throw new OptionError('runs', 'with --api and a service change, runs would accumulate services; use --runs 1');
  }
  if (o.xds !== undefined && !/^[^:]+:\d+$/.test(o.xds) && !/^\[.+\]:\d+$/.test(o.xds)) throw new OptionError('xds', `"${o.xds}" is not host:port`);
  for (const k of Object.keys(o.cpEnv)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new OptionError('cp-env', `"${k}" is not an environment variable name`);
  return o;
}

/**
 * How many proxies of each kind: largest remainder, so the counts add up to
 * `n` exactly and follow the weights as closely as possible.
 */
export function mixCounts(mix: SimOptions['mix'], n: number): Record<ClientKind, number> {
  const total = Object.values(mix).reduce((a, w) => a + (w ?? 0), 0);
  const out = Object.fromEntries(CLIENT_KINDS.map((k) => [k, 0])) as Record<ClientKind, number>;
  const rest: { k: ClientKind; frac: number }[] = [];
  let given = 0;
  for (const k of CLIENT_KINDS) {
    const exact = ((mix[k] ?? 0) / total) * n;
    out[k] = Math.floor(exact);
    given += out[k];
    rest.push({ k, frac: exact - out[k] });
  }
  rest.sort((a, b) => b.frac - a.frac);
  for (let i = 0; given < n; i++, given++) out[rest[i % rest.length].k]++;
  return out;
}
