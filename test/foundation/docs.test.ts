import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configDescriptions } from '../../src/config.ts';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('opens with the two commands', () => {
    expect(readme.indexOf('npm install && npm start')).toBeLessThan(readme.indexOf('npm test'));
    expect(readme.indexOf('npm test')).toBeLessThan(readme.indexOf('## '));
  });

  it('documents every configuration variable', () => {
    const missing = Object.keys(configDescriptions).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
