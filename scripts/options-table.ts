/** Prints the README's configuration table from the one option table (`npx tsx scripts/options-table.ts`). */
import { configOptions } from "../src/layers/ConfigLoader.js"

const cell = (text: string) => text.replaceAll("|", "\\|")
console.log("| option | flag | env var | default | rule |")
console.log("|---|---|---|---|---|")
for (const option of configOptions) {
  console.log(
    `| \`${option.key}\` | \`--${option.flag}\` | \`${option.env}\` | ${
      option.default === undefined ? (option.required ? "**required**" : "–") : `\`${cell(option.default)}\``
    } | ${cell(option.description)} |`
  )
}
