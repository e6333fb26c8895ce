import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { ArchiveVerify } from "effect-kafka-pipeline"

// Before the hour's backup files are loaded into the warehouse: every file whole, every
// offset once. The summary is logged either way; `ok` says whether to load.
export const checkBeforeLoading = (directory: string) =>
  Effect.gen(function*() {
    const report = yield* ArchiveVerify.run(directory)
    const failures = ArchiveVerify.failures(report, { failOnDuplicates: true })
    yield* Effect.logInfo(ArchiveVerify.formatReport(report, { failOnDuplicates: true }))
    return { ok: failures.length === 0, failures, partitions: report.backup.partitions }
  })

if (import.meta.main) {
  NodeRuntime.runMain(
    checkBeforeLoading("/var/lib/orders-pipeline/backup").pipe(Effect.provide(NodeServices.layer))
  )
}
