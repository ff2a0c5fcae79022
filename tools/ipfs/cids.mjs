// The CIDs real IPFS implementations compute for files: Helia's addBytes (its defaults: CIDv1, raw leaves, 1 MiB
// chunks, balanced layout of 1,024 links) and ipfs-car's pack (--no-wrap).
//   node tools/ipfs/cids.mjs [--chunk N --links N] FILE...   -> one JSON line {file: {helia, car}}
//   (--chunk/--links: Helia with another chunk size and width, to check deep trees on small files)
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core'

const args = process.argv.slice(2)
const options = {}
let chunk = null
let links = null
while (args[0]?.startsWith('--')) {
  const flag = args.shift()
  if (flag === '--chunk') chunk = Number(args.shift())
  if (flag === '--links') links = Number(args.shift())
}
if (chunk != null) options.chunker = fixedSize({ chunkSize: chunk })
if (links != null) options.layout = balanced({ maxChildrenPerNode: links })
const carBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.bin', 'ipfs-car')
const fs = unixfs({ blockstore: new MemoryBlockstore() })
const dir = await mkdtemp(join(tmpdir(), 'dml-cids-'))
const out = {}
try {
  for (const file of args) {
    const helia = (await fs.addBytes(await readFile(file), options)).toString()
    let car = null
    if (chunk == null && links == null) {
      const target = join(dir, 'object.car')
      execFileSync(carBin, ['pack', file, '--no-wrap', '--output', target])
      car = execFileSync(carBin, ['roots', target], { encoding: 'utf8' }).trim()
    }
    out[file] = { helia, car }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(JSON.stringify(out))
