import { Logger } from "effect"

/** Collects log lines (`Level: message`) instead of printing them. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel}: ${(Array.isArray(message) ? message : [message]).join(" ")}`)
    })
  ])
  const has = (level: string, fragment: string) =>
    lines.some((line) => line.startsWith(`${level}:`) && line.includes(fragment))
  return { lines, layer, has }
}
