import assert from 'node:assert/strict';
import { parseMemberRequest } from '../../src/server/member-request.ts';

const STRUCT = 'Go value of type struct { PeerURLs []string "json:\\"peerURLs\\"" }';

// Each refusal is what etcd 3.4.23 answered (400 {"message": ...}) to the same body.
const refusals: ReadonlyArray<readonly [string, string]> = [
  ['null', 'no valid URLs given'],
  ['{}', 'no valid URLs given'],
  ['{"peerURLs":null}', 'no valid URLs given'],
  ['{"peerURLs":[]}', 'no valid URLs given'],
  ['5', `json: cannot unmarshal number into ${STRUCT}`],
  ['"x"', `json: cannot unmarshal string into ${STRUCT}`],
  ['[]', `json: cannot unmarshal array into ${STRUCT}`],
  ['true', `json: cannot unmarshal bool into ${STRUCT}`],
  ['{"peerURLs":"http://a:1"}', 'json: cannot unmarshal string into Go struct field .peerURLs of type []string'],
  ['{"peerURLs":{}}', 'json: cannot unmarshal object into Go struct field .peerURLs of type []string'],
  ['{"peerURLs":true}', 'json: cannot unmarshal bool into Go struct field .peerURLs of type []string'],
  ['{"peerURLs":[5]}', 'json: cannot unmarshal number into Go struct field .peerURLs of type string'],
  ['{"peerURLs":["x",1]}', 'json: cannot unmarshal number into Go struct field .peerURLs of type string'],
  ['{"peerURLs":[null]}', 'URL scheme must be http, https, unix, or unixs: '],
  ['{"peerURLs":["foo"]}', 'URL scheme must be http, https, unix, or unixs: foo'],
  ['{"peerURLs":["ftp://127.0.0.1:1"]}', 'URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:1'],
  ['{"peerURLs":["http://a:1","foo"]}', 'URL scheme must be http, https, unix, or unixs: foo'],
  ['{"peerURLs":["http://127.0.0.1"]}', 'URL address does not have the form "host:port": http://127.0.0.1'],
  ['{"peerURLs":["http://127.0.0.1:1/x"]}', 'URL must not contain a path: http://127.0.0.1:1/x'],
  ['{"peerURLs":["http://127.0.0.1:3/"]}', 'URL must not contain a path: http://127.0.0.1:3/'],
];

describe('members request bodies (POST/PUT /v2/members)', () => {
  for (const [body, message] of refusals) {
    it(`${body} is refused with etcd's message`, () => {
      assert.deepEqual(parseMemberRequest(JSON.parse(body)), { message });
    });
  }

  it('isLearner must be a boolean: "yes" is refused, not taken for a voter', () => {
    assert.deepEqual(parseMemberRequest({ peerURLs: ['http://10.0.0.4:2380'], isLearner: 'yes' }), { message: 'json: cannot unmarshal string into Go struct field .isLearner of type bool' });
    assert.deepEqual(parseMemberRequest({ peerURLs: ['http://10.0.0.4:2380'], isLearner: 1 }), { message: 'json: cannot unmarshal number into Go struct field .isLearner of type bool' });
  });

  it('accepts peer URLs as etcd does (spaces trimmed, IPv6 hosts) and keeps their origins', () => {
    assert.deepEqual(parseMemberRequest({ peerURLs: [' http://127.0.0.1:7 ', 'https://[::1]:2380'] }), { peerURLs: ['http://127.0.0.1:7', 'https://[::1]:2380'], isLearner: false });
    assert.deepEqual(parseMemberRequest({ peerURLs: ['http://10.0.0.4:2380'], isLearner: true }), { peerURLs: ['http://10.0.0.4:2380'], isLearner: true });
    assert.deepEqual(parseMemberRequest({ peerURLs: ['http://10.0.0.4:2380'], isLearner: null }), { peerURLs: ['http://10.0.0.4:2380'], isLearner: false });
  });

  it('refuses unix:// peer URLs, which etcd takes but kvd cannot dial', () => {
    assert.match((parseMemberRequest({ peerURLs: ['unix://a:1'] }) as { message: string }).message, /^URL scheme must be http or https/);
  });
});
