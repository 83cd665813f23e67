// Node (CommonJS): `require('mobileid')` must give the CommonJS build, assets located without import.meta.
const { existsSync, readFileSync } = require('node:fs');
const lib = require('mobileid');

import('./probe.mjs').then(async ({ probe }) => {
  const models = existsSync('fallback-student.mobileid') ? { mobileid: new Uint8Array(readFileSync('fallback-student.mobileid')) } : {};
  const result = await probe(lib, readFileSync('input.jpg'), { models });
  console.log(JSON.stringify({ ...result, resolved: require.resolve('mobileid') }));
});
