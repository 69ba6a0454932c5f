/** Where the client's service, version and env come from, read without sending anything. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageJson, parseResourceAttributes, resolveGlobalTags } from 'tally-agent/client';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-tags-'));
  await mkdir(join(dir, 'app', 'lib', 'deep'), { recursive: true });
  await mkdir(join(dir, 'app', 'nameless'), { recursive: true });
  await writeFile(join(dir, 'app', 'package.json'), JSON.stringify({ name: '@acme/shop', version: '1.4.0' }));
  await writeFile(join(dir, 'app', 'nameless', 'package.json'), JSON.stringify({ private: true }));
  await writeFile(join(dir, 'app', 'lib', 'package.json'), '{ not json');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('global tags', () => {
  it('parses OTEL_RESOURCE_ATTRIBUTES, percent-decoded, skipping broken pairs', () => {
    expect([...parseResourceAttributes('service.version=1.2.3, deployment.environment.name=eu%2Fprod,=x,novalue=,bad%=a%zz,k')]).toEqual([
      ['service.version', '1.2.3'],
      ['deployment.environment.name', 'eu/prod'],
      ['bad%', 'a%zz'],
    ]);
    expect(parseResourceAttributes(undefined).size).toBe(0);
  });

  it('walks up to the nearest package.json with a name, past unreadable and nameless ones', () => {
    expect(findPackageJson([join(dir, 'app', 'lib', 'deep')])).toMatchObject({ name: '@acme/shop', version: '1.4.0' });
    expect(findPackageJson([join(dir, 'app', 'nameless')])).toMatchObject({ name: '@acme/shop' });
    expect(findPackageJson(['/'])).toBeUndefined();
    expect(findPackageJson(['/', join(dir, 'app')])).toMatchObject({ name: '@acme/shop' });
  });

  it('prefers options, then OTEL_SERVICE_NAME, then service.name, then package.json', () => {
    const packageDirs = [join(dir, 'app')];
    expect(resolveGlobalTags({ environment: {}, packageDirs })).toEqual({ service: '@acme/shop', version: '1.4.0' });
    expect(
      resolveGlobalTags({
        environment: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,service.version=2,deployment.environment=old' },
        packageDirs,
      }),
    ).toEqual({ service: 'a', version: '2', env: 'old' });
    expect(
      resolveGlobalTags({
        environment: { OTEL_SERVICE_NAME: 'b', OTEL_RESOURCE_ATTRIBUTES: 'service.name=a,deployment.environment=old,deployment.environment.name=new' },
        packageDirs,
      }),
    ).toEqual({ service: 'b', version: '1.4.0', env: 'new' });
    expect(resolveGlobalTags({ environment: { OTEL_SERVICE_NAME: 'b' }, packageDirs, service: 'c', version: '9', env: 'dev', tags: { env: 'override', team: 'x' } })).toEqual({
      service: 'c',
      version: '9',
      env: 'override',
      team: 'x',
    });
    expect(resolveGlobalTags({ environment: {}, packageDirs: ['/'] })).toEqual({});
  });
});
