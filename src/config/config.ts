import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import YAML from 'yaml';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return value;
};

const toNumber = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const XDS_AUTH_MODES = ['none', 'optional', 'required'] as const;
export const AUTH_MODES = ['token', 'none'] as const;
/** The samplers of the OpenTelemetry SDK's OTEL_TRACES_SAMPLER (the ones it ships, no extensions). */
export const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Process configuration. Every field comes from the environment variable of the
 * same name (or from CONFIG_FILE, which the environment overrides) and is
 * validated at boot; a bad value stops the process with a message naming it.
 */
export class AppConfig {
  /** REST API port (0 = pick a free one). */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT = 8080;

  /**
   * Bind address for every listener we open. Loopback by default, so a
   * control plane started without settings (AUTH_MODE=none) is reachable
   * from this machine only; set 0.0.0.0 to serve others (AUTH_MODE=token).
   */
  @IsString()
  HOST = '127.0.0.1';

  /** Management gRPC API port. */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  GRPC_PORT = 9090;

  /** xDS (ADS) gRPC port. */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  XDS_PORT = 18000;

  /** PostgreSQL connection string; absent = embedded PGlite. */
  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  /** Max connections in the PostgreSQL pool (the embedded database always uses 1). */
  @Transform(toInt) @IsInt() @Min(1) @Max(200)
  DATABASE_POOL_SIZE = 10;

  /**
   * A query on a PostgreSQL server whose connection has been silent this long
   * fails with 503 and the connection is replaced (a network blackhole never
   * closes the socket); 0 waits forever. Longer than any statement should take.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(3_600_000)
  DATABASE_READ_TIMEOUT_MS = 15_000;

  /** Comma-separated etcd endpoints; absent = in-memory coordination. */
  @IsOptional() @IsString()
  ETCD_ENDPOINTS?: string;

  /** Name of this control-plane replica (leader election, membership); default host-pid. */
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9._-]{1,128}$/, { message: 'must be 1-128 letters, digits, ".", "_" or "-"' })
  REPLICA_ID?: string;

  /** Leader lease TTL: failover takes at most this plus a second. */
  @Transform(toInt) @IsInt() @Min(1) @Max(600)
  LEADER_TTL_SECONDS = 5;

  /** Probe link-local and cloud-metadata addresses (refused by default). */
  @Transform(toBool) @IsBoolean()
  HEALTH_ALLOW_LINK_LOCAL = false;

  /** Most probes in flight at once in this process (bounds sockets). */
  @Transform(toInt) @IsInt() @Min(1) @Max(100000)
  HEALTH_MAX_CONCURRENT_PROBES = 512;

  /** Panic guard: above this percentage of failing endpoints, a service keeps them all in rotation. */
  @Transform(toInt) @IsInt() @Min(0) @Max(100)
  HEALTH_PANIC_PERCENT = 50;

  /** Where the embedded database keeps its files. */
  @IsString()
  DATA_DIR = './.switchyard/data';

  @IsIn(LOG_LEVELS as unknown as string[])
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Apply pending migrations at start-up. */
  @Transform(toBool) @IsBoolean()
  MIGRATIONS_RUN = true;

  /** Largest accepted request body, in bytes. */
  @Transform(toInt) @IsInt() @Min(1024) @Max(64 * 1024 * 1024)
  BODY_LIMIT_BYTES = 2 * 1024 * 1024;

  /** Rebuild debounce: wait for this much quiet after a change... */
  @Transform(toInt) @IsInt() @Min(0) @Max(60000)
  XDS_DEBOUNCE_QUIET_MS = 100;

  /** ...but never delay a rebuild longer than this after the first change. */
  @Transform(toInt) @IsInt() @Min(0) @Max(600000)
  XDS_DEBOUNCE_MAX_MS = 1000;

  /** How often to look at the change log for writes made by other processes. */
  @Transform(toInt) @IsInt() @Min(50) @Max(600000)
  XDS_POLL_INTERVAL_MS = 1000;

  /** Admission control: new xDS streams accepted per second (0 = no limit); the excess is told RESOURCE_EXHAUSTED. */
  @Transform(toInt) @IsInt() @Min(0) @Max(1000000)
  XDS_MAX_NEW_STREAMS_PER_SECOND = 1000;

  /** ...with bursts of up to this many new streams at once. */
  @Transform(toInt) @IsInt() @Min(1) @Max(1000000)
  XDS_NEW_STREAM_BURST = 1000;

  /**
   * A node group (an Envoy node.cluster and locality, or proxyless) with no
   * stream left is dropped after this long: its snapshot is freed and rebuilds
   * stop translating it. A client that comes back gets the same versions.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(86_400_000)
  XDS_IDLE_GROUP_TTL_MS = 60_000;

  /** How often the leader's rollout controller looks at every rollout. */
  @Transform(toInt) @IsInt() @Min(50) @Max(60000)
  ROLLOUT_TICK_MS = 500;

  /** Prometheus for rollout metrics with a query (a rollout may name its own). */
  @IsOptional() @Matches(/^https?:\/\//, { message: 'must be an http(s) URL' })
  PROMETHEUS_URL?: string;

  /** token: every API call needs a bearer token (or JWT); none: anyone who can connect may do anything (loopback HOST only). Default: none on a loopback HOST, else token. */
  @IsOptional() @IsIn(AUTH_MODES as unknown as string[])
  AUTH_MODE?: (typeof AUTH_MODES)[number];

  /** An admin secret accepted as is (at least 16 characters), e.g. from a secret store. */
  @IsOptional() @IsString() @Matches(/^\S{16,512}$/, { message: 'must be 16-512 characters without spaces' })
  ADMIN_TOKEN?: string;

  /** JWKS of an OIDC provider: bearer JWTs signed by its keys are accepted. */
  @IsOptional() @Matches(/^https?:\/\//, { message: 'must be an http(s) URL' })
  OIDC_JWKS_URL?: string;

  /** Required `iss` of accepted JWTs. */
  @IsOptional() @IsString()
  OIDC_ISSUER?: string;

  /** Required `aud` of accepted JWTs. */
  @IsOptional() @IsString()
  OIDC_AUDIENCE?: string;

  /** The claim holding a JWT's roles (a dotted path such as realm_access.roles; an array or a space-separated string). */
  @IsString() @Matches(/^[A-Za-z0-9_:.\/-]{1,128}$/, { message: 'must be a claim name or dotted path' })
  OIDC_ROLES_CLAIM = 'roles';

  /** Requests per second each token (or JWT subject) may make, on average, per replica (0 = no limit). */
  @Transform(toInt) @IsInt() @Min(0) @Max(1000000)
  AUTH_RATE_LIMIT_RPS = 1000;

  /** ...with bursts of up to this many. */
  @Transform(toInt) @IsInt() @Min(1) @Max(1000000)
  AUTH_RATE_LIMIT_BURST = 2000;

  /**
   * Where audit events go as JSON lines, besides the audit table: stdout, off,
   * or a file path (appended to; it must contain a "/", e.g. ./audit.jsonl, so a
   * typo of stdout is not taken for a file name).
   */
  @IsString() @Matches(/^(stdout|off|[^\n]*\/[^\n]*[^/\n])$/, { message: 'must be stdout, off, or a file path containing "/" (e.g. ./audit.jsonl)' })
  AUDIT_LOG = 'off';

  /** How long graceful shutdown may take, in ms: in-flight work gets drainBudgetMs of it, and the process exits within it. */
  @Transform(toInt) @IsInt() @Min(0) @Max(600000)
  SHUTDOWN_TIMEOUT_MS = 10000;

  /** PEM certificate chain for REST, management gRPC and xDS; with TLS_KEY_FILE, every listener speaks TLS. */
  @IsOptional() @IsString()
  TLS_CERT_FILE?: string;

  /** PEM private key of TLS_CERT_FILE. */
  @IsOptional() @IsString()
  TLS_KEY_FILE?: string;

  /** PEM CA bundle: when set, xDS clients must present a certificate it signed (mTLS). */
  @IsOptional() @IsString()
  XDS_CLIENT_CA_FILE?: string;

  /** Who may open xDS streams: none (anyone), optional (anonymous only where allowed), required (an identity). */
  @IsIn(XDS_AUTH_MODES as unknown as string[])
  XDS_AUTH: (typeof XDS_AUTH_MODES)[number] = 'none';

  /** YAML binding proxy identities (certificate ids, bearer-token hashes) to the node groups they may join. */
  @IsOptional() @IsString()
  XDS_IDENTITIES_FILE?: string;

  /** How often certificate and identity files are looked at for changes, in ms. */
  @Transform(toInt) @IsInt() @Min(50) @Max(3600000)
  SECURITY_RELOAD_INTERVAL_MS = 2000;

  /** OTLP/HTTP collector base URL (spans go to <url>/v1/traces); unset = tracing off, at no cost. */
  @IsOptional() @Matches(/^https?:\/\/[^\s/?#]+[^\s?#]*$/, { message: 'must be an http(s) URL without query or fragment, e.g. http://collector:4318' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  /** service.name on every span. */
  @IsString() @Matches(/^\S.{0,127}$/, { message: 'must be 1-128 characters, not starting with a space' })
  OTEL_SERVICE_NAME = 'switchyard';

  /** Which traces to keep (SDK default: parentbased_always_on). */
  @IsOptional() @IsIn(TRACE_SAMPLERS as unknown as string[])
  OTEL_TRACES_SAMPLER?: (typeof TRACE_SAMPLERS)[number];

  /** Ratio kept by the traceidratio samplers, 0 to 1. */
  @IsOptional() @Transform(toNumber) @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  OTEL_TRACES_SAMPLER_ARG?: number;
}

/** Raised when configuration is invalid; the message names every bad variable. */
export class ConfigError extends Error {}

const KEYS = Object.keys(new AppConfig()).concat(['DATABASE_URL', 'ETCD_ENDPOINTS', 'REPLICA_ID', 'PROMETHEUS_URL', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'XDS_CLIENT_CA_FILE', 'XDS_IDENTITIES_FILE', 'AUTH_MODE', 'ADMIN_TOKEN', 'OIDC_JWKS_URL', 'OIDC_ISSUER', 'OIDC_AUDIENCE', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']);

/**
 * Builds the configuration from `env` (default process.env) and, when
 * CONFIG_FILE is set, from that YAML/JSON file underneath it.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const raw: Record<string, unknown> = {};
  if (env.CONFIG_FILE) {
    let file: unknown;
    try {
      file = YAML.parse(readFileSync(env.CONFIG_FILE, 'utf8'));
    } catch (e) {
      throw new ConfigError(`CONFIG_FILE ${env.CONFIG_FILE}: ${(e as Error).message}`);
    }
    if (file && typeof file === 'object') {
      for (const [k, v] of Object.entries(file)) {
        if (!KEYS.includes(k)) throw new ConfigError(`CONFIG_FILE ${env.CONFIG_FILE}: unknown setting ${k}`);
        raw[k] = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
      }
    }
  }
  for (const k of KEYS) if (env[k] !== undefined && env[k] !== '') raw[k] = env[k];
  const cfg = plainToInstance(AppConfig, raw, { exposeDefaultValues: true });
  const errors = validateSync(cfg, { forbidUnknownValues: false });
  if (errors.length) {
    const lines = errors.map((e) => {
      const c = e.constraints ?? {};
      const typeRule = ['isInt', 'isNumber', 'isBoolean', 'isString'].find((r) => r in c);
      const msgs = (typeRule ? [c[typeRule]] : Object.values(c)).map((m) => m.replace(new RegExp(`^${e.property}\\s*`), ''));
      return `${e.property}=${JSON.stringify(raw[e.property])}: ${msgs.join('; ')}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const combos = securityProblems(cfg);
  if (combos.length) throw new ConfigError(`Invalid configuration:\n  ${combos.join('\n  ')}`);
  // Without authentication, anyone who can connect may change everything: only on a loopback address.
  cfg.AUTH_MODE ??= isLoopback(cfg.HOST) ? 'none' : 'token';
  if (cfg.AUTH_MODE === 'none' && !isLoopback(cfg.HOST))
    throw new ConfigError(
      `Invalid configuration:\n  AUTH_MODE="none": only allowed when HOST is a loopback address (HOST=${JSON.stringify(cfg.HOST)}); ` +
        'without authentication anyone who can reach the API may change everything. Use AUTH_MODE=token (with ADMIN_TOKEN or the generated admin token), or HOST=127.0.0.1',
    );
  return cfg;
}

/** Settings that are only valid together; each problem names the variables involved. */
function securityProblems(cfg: AppConfig): string[] {
  const out: string[] = [];
  if (!cfg.TLS_CERT_FILE !== !cfg.TLS_KEY_FILE) out.push('TLS_CERT_FILE and TLS_KEY_FILE: set both (TLS on every listener) or neither (plaintext)');
  if (cfg.XDS_CLIENT_CA_FILE && !cfg.TLS_CERT_FILE) out.push('XDS_CLIENT_CA_FILE: client certificates need TLS; set TLS_CERT_FILE and TLS_KEY_FILE too');
  // Without a binding file nobody could be admitted into any group: refuse to start rather than refuse every proxy.
  if (cfg.XDS_AUTH !== 'none' && !cfg.XDS_IDENTITIES_FILE) out.push(`XDS_AUTH=${cfg.XDS_AUTH}: needs XDS_IDENTITIES_FILE (which identities may join which node groups)`);
  return out;
}

/**
 * The part of SHUTDOWN_TIMEOUT_MS that in-flight HTTP requests and gRPC calls
 * may take; what is left closes the database and the rest, so the process
 * exits within SHUTDOWN_TIMEOUT_MS.
 */
export const drainBudgetMs = (shutdownTimeoutMs: number): number => Math.floor(shutdownTimeoutMs * 0.8);
