/** `npm run bench -- <name> [options]`: runs one benchmark from bench/. */
const name = process.argv[2] ?? 'heartbeat';
const known = ['heartbeat', 'health', 'simulate', 'write-path', 'config-fanout', 'registrations', 'translate'];
if (!known.includes(name)) {
  console.error(`unknown benchmark ${name}; one of: ${known.join(', ')}`);
  process.exit(2);
}
await import(`./${name}.js`);
