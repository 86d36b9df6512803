/**
 * Envelope readers for discovery responses. Every message a simulated proxy
 * receives goes through one of these; the resources inside are decoded only on
 * a decode-cache miss (see state.ts), with the full decoders of src/xds/wire.ts.
 *
 * They walk every field of the envelope with protobufjs's Reader, so a
 * malformed message still fails here, but slice resource bytes instead of
 * copying them into objects.
 */
import protobuf from 'protobufjs';

/** The envelope of a DiscoveryResponse. */
export interface SotwEnvelope {
  version: string;
  typeUrl: string;
  nonce: string;
  /** Number of resources. */
  count: number;
}

/** One resource of a DeltaDiscoveryResponse: name and per-resource version (Switchyard: a content hash). */
export interface DeltaEntry {
  name: string;
  version: string;
}

/** The envelope of a DeltaDiscoveryResponse. */
export interface DeltaEnvelope {
  systemVersion: string;
  typeUrl: string;
  nonce: string;
  resources: DeltaEntry[];
  removed: string[];
}

/** DiscoveryResponse: version_info=1, resources=2, canary=3, type_url=4, nonce=5, control_plane=6. */
export function readSotwEnvelope(buf: Uint8Array): SotwEnvelope {
  const r = protobuf.Reader.create(buf);
  const out: SotwEnvelope = { version: '', typeUrl: '', nonce: '', count: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out.version = r.string();
        break;
      case 2:
        r.skipType(2);
        out.count++;
        break;
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

/**
 * DeltaDiscoveryResponse: system_version_info=1, resources=2 (Resource: version=1,
 * resource=2, name=3), type_url=4, nonce=5, removed_resources=6.
 */
export function readDeltaEnvelope(buf: Uint8Array): DeltaEnvelope {
  const r = protobuf.Reader.create(buf);
  const out: DeltaEnvelope = { systemVersion: '', typeUrl: '', nonce: '', resources: [], removed: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out.systemVersion = r.string();
        break;
      case 2: {
        const end = r.uint32() + r.pos;
        const e: DeltaEntry = { name: '', version: '' };
        while (r.pos < end) {
          const t = r.uint32();
          if (t >>> 3 === 3) e.name = r.string();
          else if (t >>> 3 === 1) e.version = r.string();
          else r.skipType(t & 7);
        }
        out.resources.push(e);
        break;
      }
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
      case 6:
        out.removed.push(r.string());
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}
