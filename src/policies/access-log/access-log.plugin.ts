import type { Json, PolicyPlugin } from '../../translate/plugin.js';
import { type AccessLogPolicyDto, DEFAULT_FIELDS } from './access-log.schema.js';

export const FILE_LOGGER = 'envoy.access_loggers.file';
export const STDOUT_LOGGER = 'envoy.access_loggers.stdout';
const FILE_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

/** A google.protobuf.Struct of strings, in the object form the protobuf codec encodes. */
const struct = (fields: Record<string, string>): Json => ({ fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) });

/**
 * accessLog → one `access_log` entry of the connection manager: the stdout
 * or file logger, writing JSON lines (`fields`, else DEFAULT_FIELDS) or a
 * text line, optionally only for responses with a status >= minStatus.
 * Appended after the entries already there (the connection manager keeps
 * every entry). Only Envoy writes access logs: proxyless gRPC clients get
 * nothing, and the Policy says so.
 */
export const accessLogPlugin: Pick<PolicyPlugin, 'connectionManager'> = {
  connectionManager(out, a: AccessLogPolicyDto, ctx) {
    if (ctx.group.kind === 'proxyless') {
      ctx.report({ severity: 'warning', reason: 'NotEnforced', message: `proxyless gRPC clients write no access log: their calls on Route ${ctx.ir.name} are not logged (log in the application, or send them through Envoy)` });
      return out;
    }
    const format: Json | undefined =
      (a.format ?? 'json') === 'json' ? { json_format: struct(a.fields ?? DEFAULT_FIELDS) } : a.text !== undefined ? { text_format_source: { inline_string: a.text.endsWith('\n') ? a.text : `${a.text}\n` } } : undefined;
    const file = a.sink === 'file';
    const entry: Json = {
      name: file ? FILE_LOGGER : STDOUT_LOGGER,
      ...(a.minStatus !== undefined
        ? { filter: { status_code_filter: { comparison: { op: 'GE', value: { default_value: a.minStatus, runtime_key: 'switchyard.access_log.min_status' } } } } }
        : {}),
      typed_config: { '@type': file ? FILE_TYPE : STDOUT_TYPE, ...(file ? { path: a.path } : {}), ...(format ? { log_format: format } : {}) },
    };
    return { ...out, access_log: [...((out.access_log as Json[] | undefined) ?? []), entry] };
  },
};
