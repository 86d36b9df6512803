/** `npm run bench -- simulate [options]`: the fleet load simulator (see tools/simulate/cli.ts). */
import { main } from '../tools/simulate/cli.js';

process.once('SIGINT', () => process.exit(130));
process.exitCode = await main(process.argv.slice(3));
