/**
 * Logs go to stderr (stdout is kept for command output): JSON lines in
 * production (not a TTY, or `logFormat: "json"`), pretty on a terminal.
 */
import { Layer, Logger, References } from "effect"
import type { LogLevel } from "effect"

export interface LoggingOptions {
  readonly level: LogLevel.LogLevel
  readonly format: "json" | "pretty" | "auto"
  readonly isTTY: boolean
}

export const layer = (options: LoggingOptions): Layer.Layer<never> => {
  const json = options.format === "json" || (options.format === "auto" && !options.isTTY)
  return Layer.mergeAll(
    Logger.layer([json ? Logger.withConsoleError(Logger.formatJson) : Logger.consolePretty()]),
    Layer.succeed(References.MinimumLogLevel, options.level),
    Layer.succeed(Logger.LogToStderr, true)
  )
}
