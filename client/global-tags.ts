/**
 * The tags every call carries: which service, version and environment the
 * application is, from the OpenTelemetry environment the agent also reads,
 * else from the application's own package.json, so that a dashboard can put
 * version 1.5 beside 1.4 without the application saying anything.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface GlobalTagOptions {
  /** Overrides `OTEL_SERVICE_NAME`, `service.name` and package.json's name. */
  service?: string;
  /** Overrides `service.version` and package.json's version. */
  version?: string;
  /** Overrides `deployment.environment.name` / `deployment.environment`. */
  env?: string;
  /** More tags on every call; a key here wins over service/version/env found in the environment. */
  tags?: Record<string, string>;
  /** The process environment to read (default `process.env`). */
  environment?: NodeJS.ProcessEnv;
  /** Where the search for package.json starts (default `process.cwd()`, then the main module's folder). */
  packageDirs?: string[];
}

export interface PackageInfo {
  name?: string;
  version?: string;
  path: string;
}

/**
 * `OTEL_RESOURCE_ATTRIBUTES` is `key=value,key2=value2` with values
 * percent-encoded (the W3C Baggage form the OpenTelemetry SDKs read).
 */
export function parseResourceAttributes(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // A stray % is kept as written rather than losing the attribute.
    }
    if (key && value) out.set(key, value);
  }
  return out;
}

/** The nearest package.json with a name, walking up from each start folder in turn. */
export function findPackageJson(startDirs: string[]): PackageInfo | undefined {
  for (const start of startDirs) {
    let dir = resolve(start);
    for (;;) {
      const path = join(dir, 'package.json');
      let text: string | undefined;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        try {
          const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
          if (typeof pkg.name === 'string' && pkg.name !== '') {
            return { name: pkg.name, version: typeof pkg.version === 'string' && pkg.version ? pkg.version : undefined, path };
          }
        } catch {
          // An unreadable package.json is not the application's: keep looking above it.
        }
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return undefined;
}

function defaultPackageDirs(): string[] {
  const dirs = [process.cwd()];
  const main = process.argv[1];
  if (main) dirs.push(dirname(resolve(main)));
  return dirs;
}

/** service, version and env (those that are known), then `tags`. */
export function resolveGlobalTags(opts: GlobalTagOptions = {}): Record<string, string> {
  const env = opts.environment ?? process.env;
  const attrs = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  let pkg: PackageInfo | undefined;
  let pkgRead = false;
  const fromPackage = () => {
    if (!pkgRead) {
      pkg = findPackageJson(opts.packageDirs ?? defaultPackageDirs());
      pkgRead = true;
    }
    return pkg;
  };
  const service = opts.service ?? (env.OTEL_SERVICE_NAME || undefined) ?? attrs.get('service.name') ?? fromPackage()?.name;
  const version = opts.version ?? attrs.get('service.version') ?? fromPackage()?.version;
  const environment = opts.env ?? attrs.get('deployment.environment.name') ?? attrs.get('deployment.environment');
  const out: Record<string, string> = {};
  if (service) out.service = service;
  if (version) out.version = version;
  if (environment) out.env = environment;
  return { ...out, ...opts.tags };
}
