-- A delivery being sent was "leased" by pushing its next_attempt_at forward, which a redelivery
-- pulled back to now: a second worker then sent it while the first was still sending it, and the
-- first's record, reading the claim's stale retry window, could drop the redelivery. The lease is
-- now a column of its own, which a redelivery leaves alone, noting instead that it was asked (see
-- redeliverCallback and record in src/modules/charges/callbacks.ts).

ALTER TABLE "charge_callback_deliveries" ADD COLUMN "leased_until" TIMESTAMPTZ(3),
ADD COLUMN "redelivery_asked" BOOLEAN NOT NULL DEFAULT false;
