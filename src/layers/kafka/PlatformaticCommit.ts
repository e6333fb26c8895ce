/**
 * Commits with metadata on @platformatic/kafka. Its `Consumer.commit` sends every offset's
 * metadata as null (its `#commit`), so the OffsetCommit request is sent here as `#commit` sends
 * it: on the `Consumer`'s connection to the group coordinator, with the member's id, once (no
 * rejoin and retry). The generation is the caller's: the one of the assignment the pipeline was
 * last told, so that a commit made after a rejoin but before the new assignment was announced is
 * rejected as a rebalance instead of committing a partition that may have moved.
 */
import type { Consumer } from "@platformatic/kafka"
import {
  offsetCommitV1,
  offsetCommitV2,
  offsetCommitV3,
  offsetCommitV4,
  offsetCommitV5,
  offsetCommitV6,
  offsetCommitV7,
  offsetCommitV8,
  offsetCommitV9
} from "@platformatic/kafka"
import type { CommittedOffset } from "../../domain/KafkaRecord.js"

type OffsetCommitApi = typeof offsetCommitV9.api

/** The OffsetCommit versions this client implements that carry the member's generation (1 on). */
export const offsetCommitApis: ReadonlyArray<OffsetCommitApi> = [
  offsetCommitV1.api,
  offsetCommitV2.api,
  offsetCommitV3.api,
  offsetCommitV4.api,
  offsetCommitV5.api,
  offsetCommitV6.api,
  offsetCommitV7.api,
  offsetCommitV8.api,
  offsetCommitV9.api
]

export interface VersionRange {
  readonly apiKey: number
  readonly minVersion: number
  readonly maxVersion: number
}

/** The newest of `apis` within the range the broker supports for their key, as the client itself picks. */
export const newestSupported = <Api extends { readonly key: number; readonly version: number }>(
  apis: ReadonlyArray<Api>,
  supported: ReadonlyArray<VersionRange>
): Api | undefined => {
  const range = supported.find((api) => api.apiKey === apis[0]?.key)
  return range === undefined ? undefined : apis
    .filter((api) => api.version >= range.minVersion && api.version <= range.maxVersion)
    .reduce<Api | undefined>((newest, api) => newest === undefined || api.version > newest.version ? api : newest, undefined)
}

const toTopics = (offsets: ReadonlyArray<CommittedOffset>): Array<offsetCommitV9.OffsetCommitRequestTopic> => {
  const topics = new Map<string, Array<offsetCommitV9.OffsetCommitRequestPartition>>()
  for (const { metadata, offset, partition, topic } of offsets) {
    const partitions = topics.get(topic) ?? []
    partitions.push({
      partitionIndex: partition,
      committedOffset: BigInt(offset),
      committedLeaderEpoch: -1,
      committedMetadata: metadata ?? null
    })
    topics.set(topic, partitions)
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }))
}

/** A consumer's commit: `(generation, offsets)`, each offset with its metadata. */
export const committer = (client: Consumer) => {
  // The broker's versions, asked once (again after a failure).
  let api: Promise<OffsetCommitApi> | undefined
  const offsetCommitApi = () =>
    api ??= client.listApis().then((supported) => {
      const newest = newestSupported(offsetCommitApis, supported)
      if (newest === undefined) throw new Error("the broker supports no OffsetCommit version this client implements")
      return newest
    }).catch((error: unknown) => {
      api = undefined
      throw error
    })
  return async (generation: number, offsets: ReadonlyArray<CommittedOffset>): Promise<void> => {
    const commit = await offsetCommitApi()
    const coordinator = await client.findGroupCoordinator()
    const metadata = await client.metadata({ topics: [...new Set(offsets.map((o) => o.topic))] })
    const broker = metadata.brokers.get(coordinator)
    if (broker === undefined) throw new Error(`the group coordinator (node ${coordinator}) is not in the cluster's metadata`)
    const connection = await client.connections.get(broker)
    await commit.async(connection, client.groupId, generation, client.memberId ?? "", null, toTopics(offsets))
  }
}
