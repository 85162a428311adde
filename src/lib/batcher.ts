/**
 * Runs work a batch (or `concurrency` batches) at a time per key, and coalesces: whatever arrives
 * for a key while its batches run waits and then runs as the next batch, together. A request that
 * finds its key with room starts at once, so coalescing adds no latency; under load on one key
 * (one hot account), many requests share one transaction and one commit instead of queueing on the
 * same row lock one transaction at a time.
 *
 * When a coalesced batch fails, its requests run again one by one, so that one request's failure
 * is never another's. `run` must therefore have no effect when it throws (one database
 * transaction, or one statement, rolled back).
 */
export interface BatcherOptions<In, Out> {
  /** Answers one output per input, in order. */
  run(inputs: In[]): Promise<Out[]>;
  /** How much an input weighs towards `maxWeight` (e.g. its items). */
  weight(input: In): number;
  /** A batch holds inputs up to this total weight; an input heavier than that runs alone. */
  maxWeight: number;
  /**
   * Batches of one key that may run at once (default 1). Two let one batch do its work that waits
   * for no lock while the other holds the lock they share.
   */
  concurrency?: number;
}

interface Waiting<In, Out> {
  input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

interface KeyState<In, Out> {
  queue: Waiting<In, Out>[];
  running: number;
}

export class KeyedBatcher<In, Out> {
  readonly #keys = new Map<string, KeyState<In, Out>>();
  readonly #concurrency: number;

  constructor(private readonly options: BatcherOptions<In, Out>) {
    this.#concurrency = options.concurrency ?? 1;
  }

  submit(key: string, input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      let state = this.#keys.get(key);
      if (!state) this.#keys.set(key, (state = { queue: [], running: 0 }));
      state.queue.push({ input, resolve, reject });
      this.#pump(key, state);
    });
  }

  /** Starts batches while the key has inputs waiting and room to run them. */
  #pump(key: string, state: KeyState<In, Out>): void {
    while (state.queue.length > 0 && state.running < this.#concurrency) {
      const { queue } = state;
      let weight = this.options.weight(queue[0]!.input);
      let count = 1;
      while (count < queue.length && weight + this.options.weight(queue[count]!.input) <= this.options.maxWeight) {
        weight += this.options.weight(queue[count]!.input);
        count++;
      }
      state.running++;
      void this.#run(queue.splice(0, count)).finally(() => {
        state.running--;
        if (state.running === 0 && state.queue.length === 0) this.#keys.delete(key);
        else this.#pump(key, state);
      });
    }
  }

  async #run(batch: Waiting<In, Out>[]): Promise<void> {
    try {
      const outputs = await this.options.run(batch.map((waiting) => waiting.input));
      batch.forEach((waiting, i) => waiting.resolve(outputs[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const waiting of batch) {
        try {
          const [output] = await this.options.run([waiting.input]);
          waiting.resolve(output!);
        } catch (alone) {
          waiting.reject(alone);
        }
      }
    }
  }
}
