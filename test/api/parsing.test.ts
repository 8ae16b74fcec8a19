import assert from 'node:assert/strict';
import { parseDuration } from '../../src/api/duration.ts';
import { parseEndpoints } from '../../src/api/endpoints.ts';
import { keysApiPath, normalizeKey } from '../../src/api/key-path.ts';
import { parseNonNegativeInteger } from '../../src/api/numbers.ts';

describe('api parsing helpers', () => {
  const durations: Array<[string, number]> = [
    ['5', 5000],
    ['0.5', 500],
    ['500ms', 500],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
  ];
  for (const [text, ms] of durations) {
    it(`parseDuration reads "${text}" as ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }
  for (const bad of ['', 's', '5x', '2s3', '-1s', 'ms5']) {
    it(`parseDuration refuses "${bad}"`, () => assert.throws(() => parseDuration(bad), RangeError));
  }

  it('parseEndpoints normalises a comma list and adds http:// where missing', () => {
    assert.deepEqual(parseEndpoints('http://127.0.0.1:2379, 10.0.0.2:2379,https://h:1/'), [
      'http://127.0.0.1:2379',
      'http://10.0.0.2:2379',
      'https://h:1',
    ]);
  });
  for (const bad of ['', ',', 'ftp://h:1', 'http://h:1/v2/keys', 'http://[bad']) {
    it(`parseEndpoints refuses "${bad}"`, () => assert.throws(() => parseEndpoints(bad), RangeError));
  }

  it('normalizeKey adds the leading slash and drops trailing ones', () => {
    assert.equal(normalizeKey('a/b/'), '/a/b');
    assert.equal(normalizeKey('/'), '/');
    assert.equal(normalizeKey(''), '/');
  });

  it('keysApiPath percent-encodes each segment but keeps the separators', () => {
    assert.equal(keysApiPath('/a b/c+d/é?#'), '/v2/keys/a%20b/c%2Bd/%C3%A9%3F%23');
    assert.equal(keysApiPath('/'), '/v2/keys/');
  });

  it('parseNonNegativeInteger accepts whole numbers and names the flag otherwise', () => {
    assert.equal(parseNonNegativeInteger('--ttl', '30'), 30);
    assert.equal(parseNonNegativeInteger('--ttl', 0), 0);
    for (const bad of ['-1', '1.5', 'x', '', '99999999999999999999']) {
      assert.throws(() => parseNonNegativeInteger('--ttl', bad), /--ttl must be a whole number/);
    }
  });
});
