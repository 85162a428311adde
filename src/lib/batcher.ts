/**
 * Runs work one batch at a time per key, and coalesces: whatever arrives for a key while a batch
 * of that key runs waits and then runs as the next batch, together. A request that finds its key
 * idle starts at once, so coalescing adds no latency; under load on one key (one hot account),
 * many requests share one transaction and one commit instead of queueing on the same row lock one
 * transaction at a time.
 *
 * When a coalesced batch fails, its requests run again one by one, so that one request's failure
 * is never another's. `run` must therefore have no effect when it throws (one database
 * transaction, rolled back).
 */
export interface BatcherOptions<In, Out> {
  /** Answers one output per input, in order. */
  run(inputs: In[]): Promise<Out[]>;
  /** How much an input weighs towards `maxWeight` (e.g. its items). */
  weight(input: In): number;
  /** A batch holds inputs up to this total weight; an input heavier than that runs alone. */
  maxWeight: number;
}

interface Waiting<In, Out> {
  input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export class KeyedBatcher<In, Out> {
  readonly #queues = new Map<string, Waiting<In, Out>[]>();

  constructor(private readonly options: BatcherOptions<In, Out>) {}

  submit(key: string, input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      const waiting = { input, resolve, reject };
      const queue = this.#queues.get(key);
      if (queue) {
        queue.push(waiting);
        return;
      }
      this.#queues.set(key, [waiting]);
      void this.#drain(key);
    });
  }

  async #drain(key: string): Promise<void> {
    const queue = this.#queues.get(key)!;
    while (queue.length > 0) {
      let weight = this.options.weight(queue[0]!.input);
      let count = 1;
      while (count < queue.length && weight + this.options.weight(queue[count]!.input) <= this.options.maxWeight) {
        weight += this.options.weight(queue[count]!.input);
        count++;
      }
      await this.#run(queue.splice(0, count));
    }
    this.#queues.delete(key);
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
