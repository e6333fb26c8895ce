/**
 * kafkajs connections with faults on demand, for `KafkaJs.layer`'s `socketFactory`:
 * `drop(apiKey, times)` fails the connection that carries each of the next `times`
 * requests of that Kafka API before the request is sent (a connection error, as when a
 * broker goes away mid-request). Every other request goes through to the real broker.
 */
import type { ISocketFactory } from "kafkajs"
import { Buffer } from "node:buffer"
import { connect } from "node:net"

/** Kafka API keys (the protocol's request header). */
export const ApiKey = { FindCoordinator: 10 } as const

export const faultySockets = () => {
  const dropsLeft = new Map<number, number>()
  const sent = new Map<number, number>()
  let dropped = 0
  const socketFactory: ISocketFactory = ({ host, onConnect, port }) => {
    const socket = connect({ host, port }, onConnect)
    const write = socket.write.bind(socket) as (chunk: unknown, encoding?: unknown) => boolean
    // kafkajs writes each request whole: int32 size, then int16 API key.
    socket.write = ((chunk: unknown, encoding?: unknown) => {
      const apiKey = Buffer.isBuffer(chunk) && chunk.length >= 6 ? chunk.readInt16BE(4) : -1
      sent.set(apiKey, (sent.get(apiKey) ?? 0) + 1)
      const left = dropsLeft.get(apiKey) ?? 0
      if (left > 0) {
        dropsLeft.set(apiKey, left - 1)
        dropped++
        // With an error: kafkajs fails the requests in flight on "error", not on "close".
        socket.destroy(new Error(`connection dropped by the test (API key ${apiKey})`))
        return false
      }
      return write(chunk, encoding)
    }) as typeof socket.write
    return socket
  }
  return {
    socketFactory,
    drop: (apiKey: number, times: number) => void dropsLeft.set(apiKey, times),
    /** How many requests were dropped so far. */
    dropped: () => dropped,
    /** How many requests of that Kafka API were made so far, dropped ones included. */
    sent: (apiKey: number) => sent.get(apiKey) ?? 0
  }
}
