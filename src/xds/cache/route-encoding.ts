import protobuf from 'protobufjs';
import { TYPE } from '../../translate/envoy-types.js';
import { encodeResource } from './envoy-protos.js';
import { type PgvViolation, validateEncodedSplit, validateItem } from './pgv.js';

/** One virtual host render, encoded and checked once. */
interface EncodedVirtualHost {
  /** The VirtualHost's bytes as field 2 of a RouteConfiguration: tag, length, message. */
  field: Uint8Array;
  /** Its PGV violations, with paths relative to the virtual host. */
  violations: PgvViolation[];
}

/** RouteConfiguration.virtual_hosts: field 2, length-delimited. */
const VIRTUAL_HOSTS_TAG = (2 << 3) | 2;
const VIRTUAL_HOST_TYPE = 'envoy.config.route.v3.VirtualHost';

/**
 * Encodes route configurations from their virtual hosts' encodings, each kept
 * by the identity of its render. A listener's route configuration holds up to
 * hundreds of virtual hosts, and a route change replaces one of them: the
 * others are neither serialized nor checked again, only copied.
 *
 * The bytes are the ones encoding the whole message gives: protobufjs writes
 * fields in field-number order, so a configuration of a name (field 1) and
 * virtual hosts (field 2) is the name, then each virtual host as a
 * length-delimited field 2. The violations are those of checking the whole
 * message (validateEncodedSplit). Memory follows the renders: the cache is a
 * WeakMap, and a render the translator no longer holds is dropped with it.
 */
export class RouteConfigEncoder {
  private readonly vhosts = new WeakMap<object, EncodedVirtualHost>();

  /**
   * A RouteConfiguration's bytes and violations, or undefined for a resource
   * with other fields than `name` and `virtual_hosts` (then encode it whole).
   */
  encode(resource: Record<string, unknown>): { value: Uint8Array; violations: PgvViolation[] } | undefined {
    const vhosts = resource.virtual_hosts;
    if (!Array.isArray(vhosts) || Object.keys(resource).some((k) => k !== 'name' && k !== 'virtual_hosts')) return undefined;
    if (!vhosts.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) return undefined;
    const parts = vhosts.map((v: object) => this.virtualHost(v));
    const envelope = encodeResource(TYPE.route, { ...resource, virtual_hosts: [] });
    let size = envelope.length;
    for (const p of parts) size += p.field.length;
    const value = new Uint8Array(size);
    value.set(envelope, 0);
    let at = envelope.length;
    for (const p of parts) {
      value.set(p.field, at);
      at += p.field.length;
    }
    const violations = validateEncodedSplit(TYPE.route, envelope, { field: 'virtual_hosts', count: parts.length, item: (i) => parts[i].violations });
    return violations ? { value, violations } : undefined;
  }

  private virtualHost(render: object): EncodedVirtualHost {
    let enc = this.vhosts.get(render);
    if (!enc) {
      const bytes = encodeResource(VIRTUAL_HOST_TYPE, render);
      enc = { field: protobuf.Writer.create().uint32(VIRTUAL_HOSTS_TAG).bytes(bytes).finish(), violations: validateItem(VIRTUAL_HOST_TYPE, bytes) };
      this.vhosts.set(render, enc);
    }
    return enc;
  }
}
