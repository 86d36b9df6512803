/**
 * The one-way dependency rule of the data path
 *   store → change feed → IR → xDS resources → cache → ADS streams
 * checked on every `npm test` (npm run deps). Type-only imports count too.
 *
 * Layers, lowest first: model, common → config, translate, security → policies,
 * coordination, database, observability → auth → registry → feed → xds, health →
 * the app root (src/*.ts) and cli. A folder may import only lower layers.
 */
const layer = (name, from, forbidden, comment) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: forbidden } });

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import cycles, not even type-only ones', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'translate-is-pure',
      comment: 'translation imports nothing stateful: only itself, the model and pure JSON helpers (no packages, no node builtins)',
      severity: 'error',
      from: { path: '^src/translate/' },
      to: { pathNot: '^src/(translate|model)/|^src/common/json\\.ts$' },
    },
    {
      name: 'xds-server-sees-only-the-cache',
      comment: 'the ADS server depends on the cache (and config, metrics, type constants), never on the feed, translation or the registry',
      severity: 'error',
      from: { path: '^src/xds/server/' },
      to: { path: '^src/', pathNot: '^src/xds/(server|cache)/|^src/xds/xds-metrics\\.ts$|^src/translate/(envoy-types|types)\\.ts$|^src/(common|config|model|observability|security)/' },
    },
    {
      name: 'product-never-imports-tools-or-tests',
      comment: 'the simulator, benchmarks and tests are not part of the product build',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(tools|test|bench)/' },
    },
    {
      name: 'policies-import-only-common-and-translate',
      comment: 'a policy folder is a schema, a validator and a pure plugin: it may use common helpers, the model and translation types',
      severity: 'error',
      from: { path: '^src/policies/' },
      to: { path: '^src/', pathNot: '^src/(policies|common|translate|model)/' },
    },
    layer('model-is-a-leaf', '^src/model/', '^src/(?!model/)', 'the resource model is types and constants only'),
    layer('common-is-a-leaf', '^src/common/', '^src/(?!common/|model/)', 'shared helpers import nothing of the product'),
    layer('infrastructure-below-registry', '^src/(config|coordination|database)/', '^src/(auth|registry|feed|xds|health|rollout|policies|translate|observability|cli|config-centre|client|audit)/', 'config, coordination and the database know no consumer'),
    {
      name: 'security-is-low',
      comment: 'TLS files and the xDS identity port sit just above config: every listener (REST, gRPC, xDS) and an auth module can use them',
      severity: 'error',
      from: { path: '^src/security/' },
      to: { path: '^src/', pathNot: '^src/(security|common|config|model)/' },
    },
    layer('ui-serves-only-files', '^src/ui/', '^src/(?!ui/)', 'the dashboard server only serves the built files: the dashboard reads the REST API like any client'),
    layer('observability-below-registry', '^src/observability/', '^src/(auth|registry|feed|xds|health|rollout|policies|translate|cli|config-centre|client|audit)/', 'metrics and probes are used by everyone above them'),
    layer('auth-below-registry', '^src/auth/', '^src/(registry|feed|xds|health|rollout|policies|translate|cli|config-centre|client|coordination)/', 'authentication and the access policy sit under every API (REST guard, gRPC services, heartbeat fast path) and know none of them: the policy reads raw requests'),
    layer('registry-below-feed', '^src/registry/', '^src/(feed|xds|health|rollout|translate|cli|config-centre|client|audit)/', 'the registry (the store side) knows nothing downstream'),
    layer('feed-below-its-consumers', '^src/feed/', '^src/(xds|health|rollout|cli|config-centre|client)/', 'the change feed knows nothing of who follows it'),
    layer('xds-below-health-and-rollout', '^src/xds/', '^src/(health|rollout|cli)/', 'xDS depends on neither the health checker nor the rollout controller'),
    layer('health-and-xds-are-siblings', '^src/health/', '^src/(xds|rollout|cli)/', 'the health checker takes its targets from the feed, not from xDS'),
    layer('config-centre-beside-xds', '^src/config-centre/', '^src/(xds|health|rollout|cli|client)/', 'the config centre follows the feed and writes through the registry; it knows nothing of xDS'),
    {
      name: 'client-stands-alone',
      comment: 'the client library ships to apps: it may use only the pure format helpers and the model, never the server',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/client/|^src/common/(config-format|paths)\\.ts$|^src/model/' },
    },
    layer('audit-above-registry', '^src/audit/', '^src/(feed|xds|health|rollout|cli|config-centre|client|translate|policies)/', 'the audit trail hears the registry\'s committed event and knows nothing downstream; an auth layer may call it'),
    layer('rollout-above-xds', '^src/rollout/', '^src/(health|cli)/', 'the rollout controller reads load reports from xDS and writes through the registry'),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },

  },
};
