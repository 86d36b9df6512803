/** google.protobuf.Value as @grpc/proto-loader decodes it (with oneofs: true). */
type PbValue = {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: PbStruct;
  listValue?: { values?: PbValue[] };
};
export type PbStruct = { fields?: Record<string, PbValue> };

/** google.protobuf.Struct → plain JSON object. */
export function structToJson(s: PbStruct | null | undefined): Record<string, unknown> | undefined {
  if (!s) return undefined;
  // fromEntries defines own properties: a `__proto__` key stays a key, not a prototype.
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, valueToJson(v)]));
}

function valueToJson(v: PbValue): unknown {
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue;
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'structValue':
      return structToJson(v.structValue);
    case 'listValue':
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** Plain JSON object → google.protobuf.Struct. */
export function jsonToStruct(o: Record<string, unknown>): PbStruct {
  const fields: Record<string, PbValue> = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, jsonToValue(v)]));
  return { fields };
}

function jsonToValue(v: unknown): PbValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}
