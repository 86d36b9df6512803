/**
 * A proxyless grpc-js-xds client in a process of its own, for tests of the
 * xDS channel's security. grpc-js-xds 1.14 builds that channel from the
 * bootstrap's channel_creds, and knows only `insecure` and `google_default`;
 * google_default is TLS with grpc-js's default roots (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,
 * read once when grpc-js loads: hence a process of its own) plus Google call
 * credentials (GOOGLE_APPLICATION_CREDENTIALS). Set by the parent:
 * GRPC_XDS_BOOTSTRAP_CONFIG, those two, and CALLS / DEADLINE_MS.
 * Prints one JSON line: the tally of `CALLS` calls to xds:///echo.
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { EchoClient, tally } from './echo-backends.js';

xds.register();
const client = new EchoClient('xds:///echo', grpc.credentials.createInsecure());
const deadlineMs = Number(process.env.DEADLINE_MS ?? 5000);
// The first call waits for the xDS config; later ones are the measurement.
const first = await tally(client, 1, { deadlineMs });
const rest = await tally(client, Number(process.env.CALLS ?? 20) - 1, { deadlineMs: 2000 });
process.stdout.write(`${JSON.stringify({ first, rest })}\n`);
client.close();
process.exit(0);
