-- The relay kept "published" on every event, an update of each row (and of its indexes) after it
-- was numbered. The cursor row now keeps the published position instead: the relay publishes in
-- position order, so the published events are exactly those up to it.
ALTER TABLE "event_cursor" ADD COLUMN "published_seq" BIGINT NOT NULL DEFAULT 0;

-- Everything numbered before the first event still waiting was published; with none waiting, all was.
UPDATE "event_cursor" SET "published_seq" = COALESCE(
  (SELECT min("seq") - 1 FROM "events" WHERE "seq" IS NOT NULL AND "published_at" IS NULL),
  "last_seq");

-- Also drops events_unpublished_idx, the partial index on published_at.
DROP INDEX "events_published_at_seq_idx";
ALTER TABLE "events" DROP COLUMN "published_at";

-- Only resolutions of pending transfers have a pending_id: the unique index need not hold every
-- other transfer's null. (Prisma's schema language cannot express a partial index.)
DROP INDEX "ledger_transfers_pending_id_key";
CREATE UNIQUE INDEX "ledger_transfers_pending_id_key" ON "ledger_transfers" ("pending_id") WHERE "pending_id" IS NOT NULL;
