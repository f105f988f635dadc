// Writes a brotli twin (NAME.br) beside every text file of the build that
// shrinks by it, at the highest quality: nexusd serves the twin to
// browsers that accept brotli. Prints each file's size and its brotli size.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";

const root = process.argv[2] ?? "dist";
const text = /\.(html|js|css|svg|json|txt|map)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

for (const path of files(root)) {
  if (!text.test(path) || path.endsWith(".map")) continue;
  const plain = readFileSync(path);
  const br = brotliCompressSync(plain, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: plain.length },
  });
  if (br.length >= plain.length) continue;
  writeFileSync(`${path}.br`, br);
  console.log(`${path.slice(root.length + 1)}\t${plain.length} B\tbrotli ${br.length} B`);
}
