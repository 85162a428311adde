import { describe, expect, it } from 'vitest';
import { KeyedBatcher } from '../../src/lib/batcher.ts';

/** A run that waits until released, recording the batches it was given. */
function gatedRun() {
  const batches: number[][] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => (release = resolve));
  return {
    batches,
    release: () => {
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    run: async (inputs: number[]) => {
      batches.push(inputs);
      await gate;
      if (inputs.includes(-1)) throw new Error('bad input');
      return inputs.map((input) => input * 10);
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedBatcher', () => {
  it('starts a lone request at once and coalesces what arrives meanwhile into the next batch', async () => {
    const gated = gatedRun();
    const batcher = new KeyedBatcher<number, number>({ run: gated.run, weight: () => 1, maxWeight: 100 });
    const first = batcher.submit('a', 1);
    await tick();
    expect(gated.batches).toEqual([[1]]);
    const later = [2, 3, 4].map((n) => batcher.submit('a', n));
    const otherKey = batcher.submit('b', 5);
    await tick();
    // Key b is idle, so it runs at once; key a's newcomers wait for its running batch.
    expect(gated.batches).toEqual([[1], [5]]);
    gated.release();
    expect(await first).toBe(10);
    expect(await otherKey).toBe(50);
    await tick();
    expect(gated.batches).toEqual([[1], [5], [2, 3, 4]]);
    gated.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('runs up to `concurrency` batches of one key at once, coalescing what arrives while they run', async () => {
    const gated = gatedRun();
    const batcher = new KeyedBatcher<number, number>({ run: gated.run, weight: () => 1, maxWeight: 100, concurrency: 2 });
    const first = [1, 2].map((n) => batcher.submit('a', n));
    await tick();
    expect(gated.batches).toEqual([[1], [2]]);
    const later = [3, 4, 5].map((n) => batcher.submit('a', n));
    await tick();
    expect(gated.batches).toEqual([[1], [2]]);
    gated.release();
    expect(await Promise.all(first)).toEqual([10, 20]);
    await tick();
    // Both batches ended together: the waiting requests run as one batch.
    expect(gated.batches).toEqual([[1], [2], [3, 4, 5]]);
    const last = batcher.submit('a', 6);
    await tick();
    expect(gated.batches).toEqual([[1], [2], [3, 4, 5], [6]]);
    gated.release();
    expect(await Promise.all([...later, last])).toEqual([30, 40, 50, 60]);
  });

  it('keeps a batch within the weight limit, and runs a heavier request alone', async () => {
    const gated = gatedRun();
    const batcher = new KeyedBatcher<number, number>({ run: gated.run, weight: (n) => n, maxWeight: 5 });
    const all = [1, 2, 2, 3, 9, 1].map((n) => batcher.submit('a', n));
    for (let i = 0; i < 5; i++) {
      await tick();
      gated.release();
    }
    await Promise.all(all);
    expect(gated.batches).toEqual([[1], [2, 2], [3], [9], [1]]);
  });

  it("runs a failed batch's requests again one by one, so one bad request fails alone", async () => {
    const gated = gatedRun();
    const batcher = new KeyedBatcher<number, number>({ run: gated.run, weight: () => 1, maxWeight: 100 });
    const first = batcher.submit('a', 1);
    await tick();
    const rest = [2, -1, 3].map((n) => batcher.submit('a', n).then((value) => ({ value }), (error: Error) => ({ error: error.message })));
    gated.release();
    await first;
    for (let i = 0; i < 4; i++) {
      await tick();
      gated.release();
    }
    expect(await Promise.all(rest)).toEqual([{ value: 20 }, { error: 'bad input' }, { value: 30 }]);
    expect(gated.batches).toEqual([[1], [2, -1, 3], [2], [-1], [3]]);
  });
});
