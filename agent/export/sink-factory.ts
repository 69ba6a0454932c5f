import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { SinkConfig } from './sinks-config.js';
import type { Sink } from './sink.js';

export interface SinkFactoryContext {
  /** Folder relative module paths are read from (the config file's). */
  baseDir: string;
  version: string;
  logger: Logger;
  /** The built-in sinks, by config type; kept injectable so this file stays a dispatcher. */
  builtIn: Record<'otlp' | 'prometheus_remote_write', (config: SinkConfig, ctx: SinkFactoryContext) => Sink>;
}

/** A user's sink module: its default export makes the Sink. */
export type SinkModuleFactory = (args: { name: string; options: Record<string, unknown>; logger: Logger; version: string }) => Sink | Promise<Sink>;

export async function createSink(config: SinkConfig, ctx: SinkFactoryContext): Promise<Sink> {
  if (config.type !== 'module') return ctx.builtIn[config.type](config, ctx);
  const file = isAbsolute(config.module) ? config.module : resolve(ctx.baseDir, config.module);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`sink ${config.name}: could not load module ${file}: ${(err as Error).message}`);
  }
  if (typeof mod.default !== 'function') throw new Error(`sink ${config.name}: module ${file} has no default export function that creates a sink`);
  const sink = await (mod.default as SinkModuleFactory)({
    name: config.name,
    options: config.options,
    logger: ctx.logger.child({ sink: config.name }),
    version: ctx.version,
  });
  for (const method of ['encode', 'send'] as const) {
    if (typeof (sink as unknown as Record<string, unknown>)?.[method] !== 'function') {
      throw new Error(`sink ${config.name}: module ${file} made an object without ${method}(): see agent/export/sink.ts for the Sink interface`);
    }
  }
  // The config's name labels the queue and the telemetry, whatever the module calls itself.
  return {
    name: config.name,
    encode: (snapshot) => sink.encode(snapshot),
    send: (request, signal) => sink.send(request, signal),
    close: sink.close === undefined ? undefined : () => sink.close!(),
  };
}
