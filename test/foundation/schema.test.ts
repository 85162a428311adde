import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSdl, SDL_PATH } from '../../codegen.ts';

describe('printed schema', () => {
  it('matches the code: run `npm run codegen` after changing GraphQL types', () => {
    expect(readFileSync(SDL_PATH, 'utf8')).toBe(printSdl());
  });
});
