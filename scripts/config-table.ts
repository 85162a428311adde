/** Prints the README's configuration table from src/config.ts: `npx tsx scripts/config-table.ts`. */
import { configDefaults, configDescriptions } from '../src/config.ts';

console.log('| variable | default | meaning |\n| --- | --- | --- |');
for (const [name, description] of Object.entries(configDescriptions)) {
  const fallback = configDefaults[name];
  console.log(`| \`${name}\` | ${fallback === undefined ? '' : `\`${fallback}\``} | ${description ?? ''} |`);
}
