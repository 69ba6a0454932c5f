import { describe, expect, it } from 'vitest';
import { decodeTags, splitNameTags } from '../../agent/aggregate/tags.js';

describe('splitNameTags', () => {
  const ok: Array<[string, string, Array<[string, string]>, number?]> = [
    ['plain.name', 'plain.name', []],
    ['req,env=prod,code=200', 'req', [['env', 'prod'], ['code', '200']]],
    ['req#env=prod,code=200', 'req', [['env', 'prod'], ['code', '200']]],
    ['req[env=prod,code=200]', 'req', [['env', 'prod'], ['code', '200']]],
    ['req.[env=prod].count', 'req..count', [['env', 'prod']]],
    ['req,url=http://x/?a', 'req', [['url', 'http://x/?a']]],
    ['req,empty=', 'req', [['empty', '']]],
    // As statsd_exporter: an empty bracket is no tags, and an entry that is not key=value is skipped and counted.
    ['foo.[]test', 'foo.test', []],
    ['req[]', 'req', []],
    ['foo.[tag1,tag2]test', 'foo.test', [], 2],
    ['foo.[a=1,flag,,=x,b=2]test', 'foo.test', [['a', '1'], ['b', '2']], 3],
  ];
  for (const [raw, name, pairs, malformed = 0] of ok) {
    it(`reads ${raw}`, () => expect(splitNameTags(raw)).toEqual({ name, pairs, malformed }));
  }

  const bad = [
    'req,env', // InfluxDB tag without '='
    'req#env', // Librato tag without '='
    'req[env=prod', // unclosed bracket
    'req]env=prod', // stray bracket
    'req[env=prod],x=y', // SignalFx mixed with InfluxDB
    'req#a=b#c=d', // two Librato lists
    'req,a=b#c=d', // InfluxDB mixed with Librato
    ',a=b', // no name
    '[a=b]', // no name outside the bracket
    '[]', // nor here
    'req,,a=b', // empty InfluxDB tag
  ];
  for (const raw of bad) {
    it(`rejects ${raw}`, () => expect(splitNameTags(raw)).toEqual({ error: 'bad_tag_style' }));
  }
});

describe('decodeTags', () => {
  it('keeps values with colons and counts flags and empty keys as malformed', () => {
    expect(decodeTags('url:http://a:80,flag,:x,,k:v')).toEqual({
      pairs: [
        ['url', 'http://a:80'],
        ['k', 'v'],
      ],
      malformed: 2,
    });
  });
});
