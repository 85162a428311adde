/**
 * Top-up fees. A company sets at most one rule per transaction code, currency and payment mode,
 * plus optionally one for any mode; the rule for the exact mode wins. All amounts are minor units.
 *
 *   fee = fixed + round_half_up(amount * percentBasisPoints / 10000)
 *   fee = max(fee, min) when min is set, then min(fee, max) when max is set
 *
 * Rounding to the currency's minor unit is rounding the percentage part to a whole number of
 * minor units, half up (amounts are positive, so half away from zero). The fee is taken from
 * the top-up: the wallet receives amount - fee.
 */

export const BASIS_POINTS_PER_UNIT = 10_000;

export interface FeeTerms {
  fixed: bigint;
  /** 1 basis point = 0.01 %; 10000 = 100 %. */
  percentBasisPoints: number;
  min: bigint | null;
  max: bigint | null;
}

export interface FeeBreakdown {
  /** The percentage part, already rounded. */
  percentPart: bigint;
  fee: bigint;
}

export function calculateFee(amount: bigint, terms: FeeTerms): FeeBreakdown {
  const scaled = amount * BigInt(terms.percentBasisPoints);
  const divisor = BigInt(BASIS_POINTS_PER_UNIT);
  const percentPart = (scaled + divisor / 2n) / divisor;
  let fee = terms.fixed + percentPart;
  if (terms.min !== null && fee < terms.min) fee = terms.min;
  if (terms.max !== null && fee > terms.max) fee = terms.max;
  return { percentPart, fee };
}

/** Why terms cannot make a rule, or null when they can. */
export function termsProblem(terms: FeeTerms): string | null {
  if (terms.fixed < 0n) return 'fixed must not be negative.';
  if (!Number.isInteger(terms.percentBasisPoints) || terms.percentBasisPoints < 0 || terms.percentBasisPoints > BASIS_POINTS_PER_UNIT) {
    return `percentBasisPoints is a whole number from 0 to ${BASIS_POINTS_PER_UNIT} (100 %).`;
  }
  if (terms.min !== null && terms.min < 0n) return 'min must not be negative.';
  if (terms.max !== null && terms.max < 0n) return 'max must not be negative.';
  if (terms.min !== null && terms.max !== null && terms.min > terms.max) return 'min must not exceed max.';
  return null;
}

/** The rule for exactly this payment mode, else the one for any mode, else none. */
export function selectRule<R extends { paymentMode: number | null }>(rules: readonly R[], paymentMode: number): R | null {
  return rules.find((rule) => rule.paymentMode === paymentMode) ?? rules.find((rule) => rule.paymentMode === null) ?? null;
}
