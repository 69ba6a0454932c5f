/**
 * The tests' import of the Prometheus text reader. The reader itself lives in
 * scripts/prom-text.mjs, plain ESM, because bench/ and demo/ run under node
 * without a TypeScript loader and read /metrics with the same code.
 */
export * from '../../scripts/prom-text.mjs';
