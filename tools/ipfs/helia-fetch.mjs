// Fetches objects from a trustless gateway with Helia's own client, as any IPFS node would: every block by
// `?format=raw`, hash-checked by Helia, the UnixFS file reassembled by @helia/unixfs.
//   node tools/ipfs/helia-fetch.mjs GATEWAY_URL OUT_DIR CID...    -> writes OUT_DIR/<cid>, prints one JSON line
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { createHeliaLight } from 'helia'
import { trustlessGatewayBlockBroker } from '@helia/trustless-gateway-client'
import { fallbackRouter } from '@helia/fallback-router'
import { unixfs } from '@helia/unixfs'
import { CID } from 'multiformats/cid'

const [gateway, outDir, ...cids] = process.argv.slice(2)
// As @helia/http's withHTTP sets a node up, with this one gateway as the only provider (on loopback, over http).
// Helia asks its default routers before the fallback gateways and waits for one to finish: withHTTP's is the
// delegated routing service (unreachable here), so this one answers "no providers" at once.
const helia = createHeliaLight()
helia.addRouter({ name: 'no-delegated-routing', async * findProviders () {} })
helia.addRouter(fallbackRouter({ gateways: [gateway] }))
helia.addBlockBroker(trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true }))
await helia.start()
const fs = unixfs(helia)
const sizes = {}
try {
  for (const text of cids) {
    const cid = CID.parse(text)
    const target = join(outDir, text)
    await pipeline(Readable.from(fs.cat(cid, { signal: AbortSignal.timeout(300_000) })), createWriteStream(target))
    sizes[text] = Number((await fs.stat(cid)).size ?? -1)
  }
} finally {
  await helia.stop()
}
console.log(JSON.stringify({ fetched: sizes }))
