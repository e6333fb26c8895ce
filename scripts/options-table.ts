/** The README's configuration table, from the one option table. Print it with `npx tsx scripts/options-table.ts`. */
import { pathToFileURL } from "node:url"
import type { ConfigOption } from "../src/domain/ConfigOption.js"
import { configOptions } from "../src/domain/ConfigOptions.js"

const cell = (text: string) => text.replaceAll("|", "\\|")

/** As `--help` shows it: `--concurrency integer`; a switch with its negation. */
const flagCell = (option: ConfigOption) =>
  option.kind === "boolean"
    ? `\`--${option.flag}\`, \`--no-${option.flag}\``
    : `\`--${option.flag} ${cell(option.metavar)}\``

export const optionsTable = (): string =>
  [
    "| option | flag | env var | default | rule |",
    "|---|---|---|---|---|",
    ...configOptions.map((option) =>
      `| \`${option.key}\` | ${flagCell(option)} | \`${option.env}\`${option.fallbackEnv === undefined ? "" : ` (or \`${option.fallbackEnv}\`)`} | ${
        option.default === undefined ? (option.required ? "**required**" : "–") : `\`${cell(option.default)}\``
      } | ${cell(option.description)} |`
    )
  ].join("\n")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(optionsTable())
