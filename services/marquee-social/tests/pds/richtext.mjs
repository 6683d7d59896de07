// Prints the facets @atproto/api's RichText detects in the text on stdin,
// as JSON: the reference the Bluesky client's facets are checked against.
//
//   node richtext.mjs "$BLUESKY_PDS_DIR" < text
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.argv[2] ?? process.exit(2), 'package.json'));
const { RichText } = require('@atproto/api');

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
const rt = new RichText({ text });
rt.detectFacetsWithoutResolution();
console.log(JSON.stringify(rt.facets ?? []));
