/** `npm run bench -- simulate [options]`: the fleet load simulator (see src/simulate/cli.ts). */
import { main } from '../src/simulate/cli.js';

process.once('SIGINT', () => process.exit(130));
process.exitCode = await main(process.argv.slice(3));
