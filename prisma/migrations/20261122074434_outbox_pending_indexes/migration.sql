-- The outbox relay's two reads, the events not numbered yet and those numbered but not published,
-- each looked through every event the table kept (the whole retention period) on every round.
-- Partial indexes hold only the events waiting, so each round costs what is waiting. Prisma's
-- schema language cannot express a partial index: these live in this migration only.
CREATE INDEX IF NOT EXISTS "events_unnumbered_idx" ON "events" ("id") WHERE "seq" IS NULL;
CREATE INDEX IF NOT EXISTS "events_unpublished_idx" ON "events" ("seq") WHERE "seq" IS NOT NULL AND "published_at" IS NULL;
