// `npm run bench [name…]`: runs the named benchmarks (all by default) and prints Markdown tables to paste into
// docs/benchmarks.md, headed by the machine, Node version and date.
import os from "node:os"
import { runAnalysisBench } from "./analysis.js"
import { runBatchingBench } from "./batching.js"
import { codecTable, runCodecBench } from "./codec.js"
import { runCrawlerBench } from "./crawler.js"
import { runDhtBench } from "./dht.js"
import { runMetadataBench } from "./metadata.js"
import { runNetworkSizeBench } from "./networkSize.js"
import { runRepositoryBench } from "./repository.js"
import { runRowDecodeBench } from "./rowDecode.js"
import { runSoakBench } from "./soak.js"
import { runSparseBench } from "./sparse.js"
import { runYieldBench } from "./yield.js"

const benches: Record<string, () => Promise<string> | string> = {
  batching: runBatchingBench,
  analysis: runAnalysisBench,
  codec: () => codecTable(runCodecBench()),
  crawler: runCrawlerBench,
  dht: runDhtBench,
  metadata: runMetadataBench,
  networkSize: runNetworkSizeBench,
  repository: runRepositoryBench,
  rowDecode: runRowDecodeBench,
  soak: runSoakBench,
  sparse: runSparseBench,
  yield: runYieldBench
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"))
// soak runs only when named (30 min).
const names = wanted.length > 0 ? wanted : Object.keys(benches).filter((n) => n !== "soak")
const cpu = os.cpus()[0]?.model ?? "unknown CPU"
process.stdout.write(
  `Machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${
    new Date().toISOString().slice(0, 10)
  }\n\n`
)
for (const name of names) {
  const bench = benches[name]
  if (bench === undefined) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(benches).join(", ")}\n`)
    process.exit(2)
  }
  process.stdout.write(`## ${name}\n\n${await bench()}\n\n`)
}
