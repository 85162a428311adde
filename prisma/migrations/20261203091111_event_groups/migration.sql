-- A batch's events (a thousand charges, say) were a thousand rows, each inserted with four index
-- entries and updated with three more when the relay numbered it. A row may now hold a group of
-- events of one type on one topic, written together: `size` of them, at positions seq to
-- seq + size - 1, each one's object and data in the payload's array.
ALTER TABLE "events" ADD COLUMN "size" INTEGER NOT NULL DEFAULT 1,
ALTER COLUMN "object_id" DROP NOT NULL;

-- A row of one event names its object; a row of several names none (its payload names each one's).
ALTER TABLE "events" ADD CONSTRAINT "events_size_check"
  CHECK ("size" >= 1 AND ("size" = 1) = ("object_id" IS NOT NULL));
