/**
 * `npm run codegen`: prints the schema built from the code, sorted, to schema/schema.graphql, then
 * generates typed documents (graphql-codegen's client preset) from test/documents/*.graphql into
 * test/generated/, and the dashboard's from web/dashboard/documents/*.graphql into
 * web/dashboard/generated/. test/foundation/schema.test.ts fails when the checked-in SDL differs.
 */
import { writeFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { buildSchema } from './src/graphql/schema.ts';

export const SDL_PATH = 'schema/schema.graphql';

export function printSdl(): string {
  return `${printSchema(buildSchema())}\n`;
}

const config: CodegenConfig = {
  schema: SDL_PATH,
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: {
    'test/generated/': {
      documents: ['test/documents/**/*.graphql'],
      preset: 'client',
      config: {
        scalars: { BigInt: 'string', DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
      presetConfig: { fragmentMasking: false },
    },
    // The browser bundle carries documents as strings: no GraphQL runtime is shipped to print them.
    'web/dashboard/generated/': {
      documents: ['web/dashboard/documents/**/*.graphql'],
      preset: 'client',
      config: {
        scalars: { BigInt: 'string', DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
        documentMode: 'string',
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SDL_PATH, printSdl());
  await generate(config, true);
}

export default config;
