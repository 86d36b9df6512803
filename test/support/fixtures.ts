/** Resources from the README's wire-format example. */
export const echoService = (extra: Record<string, unknown> = {}) => ({
  kind: 'Service',
  name: 'echo',
  labels: { team: 'core' },
  spec: {
    protocol: 'grpc',
    port: 50051,
    connectTimeoutMs: 1000,
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
    ...extra,
  },
});

export const echoEndpoint = (name: string, version: string, port = 50061) => ({
  kind: 'Endpoint',
  name,
  service: 'echo',
  spec: { address: '127.0.0.1', port, weight: 1, locality: { region: 'r1', zone: 'z1' }, labels: { version } },
});

export const echoRoute = (v1 = 90, v2 = 10) => ({
  kind: 'Route',
  name: 'echo',
  spec: {
    hosts: ['echo'],
    rules: [
      { match: { headers: [{ name: 'x-canary', exact: 'true' }] }, backends: [{ service: 'echo', subset: 'v2', weight: 100 }] },
      {
        match: { pathPrefix: '/' },
        backends: [
          { service: 'echo', subset: 'v1', weight: v1 },
          { service: 'echo', subset: 'v2', weight: v2 },
        ],
        timeoutMs: 2000,
      },
    ],
  },
});

export const edgeListener = (routes = ['echo']) => ({
  kind: 'Listener',
  name: 'edge',
  spec: { group: 'default', address: '0.0.0.0', port: 10000, protocol: 'http', routes },
});

export const retryPolicy = (name = 'echo-retry') => ({
  kind: 'Policy',
  name,
  spec: { type: 'retry', retry: { attempts: 3, on: ['unavailable'], backoff: { baseMs: 25, maxMs: 250 } } },
});

export const EXAMPLE_YAML = `kind: Service
name: echo
labels: {team: core}
spec:
  protocol: grpc
  port: 50051
  connectTimeoutMs: 1000
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
  policies: [echo-retry]
---
kind: Endpoint
name: echo-1
service: echo
spec: {address: 127.0.0.1, port: 50061, weight: 1, locality: {region: r1, zone: z1}, labels: {version: v1}}
---
kind: Route
name: echo
spec:
  hosts: [echo]
  rules:
    - match: {headers: [{name: x-canary, exact: "true"}]}
      backends: [{service: echo, subset: v2, weight: 100}]
    - match: {pathPrefix: /}
      backends:
        - {service: echo, subset: v1, weight: 90}
        - {service: echo, subset: v2, weight: 10}
      timeoutMs: 2000
---
kind: Listener
name: edge
spec: {group: default, address: 0.0.0.0, port: 10000, protocol: http, routes: [echo]}
---
kind: Policy
name: echo-retry
spec: {type: retry, retry: {attempts: 3, on: [unavailable], backoff: {baseMs: 25, maxMs: 250}}}
`;
