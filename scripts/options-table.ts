/** The README's configuration table, from the one option table. Print it with `npx tsx scripts/options-table.ts`. */
import { pathToFileURL } from "node:url"
import { configOptions } from "../src/layers/config/ConfigLoader.js"

const cell = (text: string) => text.replaceAll("|", "\\|")

export const optionsTable = (): string =>
  [
    "| option | flag | env var | default | rule |",
    "|---|---|---|---|---|",
    ...configOptions.map((option) =>
      `| \`${option.key}\` | \`--${option.flag}\` | \`${option.env}\`${option.fallbackEnv === undefined ? "" : ` (or \`${option.fallbackEnv}\`)`} | ${
        option.default === undefined ? (option.required ? "**required**" : "–") : `\`${cell(option.default)}\``
      } | ${cell(option.description)} |`
    )
  ].join("\n")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(optionsTable())
