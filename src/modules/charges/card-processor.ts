/**
 * The card processor that debits installments (auto-debit and the payment link). Only a sandbox
 * exists in this project; a real acquirer connector implements the same interface.
 */
import { randomBytes } from 'node:crypto';

export interface DebitRequest {
  /** The processor's token for a card: we never see card numbers. */
  cardToken: string;
  /** BRL centavos. */
  amount: bigint;
  /**
   * The same key always answers the same outcome without debiting again, so a debit retried
   * after a crash (its outcome unknown to us) cannot charge the card twice.
   */
  idempotencyKey: string;
}

export type DebitOutcome =
  | { outcome: 'approved'; authorizationId: string }
  | { outcome: 'declined'; reason: string }
  | { outcome: 'error'; message: string };

export interface CardProcessor {
  debit(request: DebitRequest): Promise<DebitOutcome>;
}

/**
 * Deterministic by card token: a token ending in `0002` is declined (insufficient funds), one
 * ending in `0003` fails as if the processor were unavailable, any other is approved.
 */
export class SandboxCardProcessor implements CardProcessor {
  readonly #answered = new Map<string, DebitOutcome>();
  /** Every debit actually performed (replays excluded), for tests and the demo. */
  readonly debits: { cardToken: string; amount: bigint; idempotencyKey: string }[] = [];

  async debit(request: DebitRequest): Promise<DebitOutcome> {
    const known = this.#answered.get(request.idempotencyKey);
    if (known) return known;
    let outcome: DebitOutcome;
    if (request.cardToken.endsWith('0002')) outcome = { outcome: 'declined', reason: 'insufficient_funds' };
    else if (request.cardToken.endsWith('0003')) outcome = { outcome: 'error', message: 'processor unavailable' };
    else {
      outcome = { outcome: 'approved', authorizationId: `sandbox_${randomBytes(8).toString('hex')}` };
      this.debits.push({ cardToken: request.cardToken, amount: request.amount, idempotencyKey: request.idempotencyKey });
    }
    if (outcome.outcome !== 'error') this.#answered.set(request.idempotencyKey, outcome);
    return outcome;
  }
}
