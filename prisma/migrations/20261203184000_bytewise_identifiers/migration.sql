-- Identifiers compare byte by byte, in the "C" collation, whatever the database's own.
--
-- Ids (UUIDv7), tokens and keys are ASCII, in which "C" orders as every UTF-8 collation does; but
-- under a locale's collation (C.UTF-8 and en_US.UTF-8, often the default) each comparison goes
-- through strcoll, with its copies and locale lookups. A batch of 1,000 pocket charges compares
-- ids some hundred thousand times (index insertions, lookups, sorts): in "C", PostgreSQL's time
-- for it fell by about a fifth. Every identifier column changes together, so that joins and
-- `= ANY (...)` between them keep one collation, the one their indexes are built in.
--
-- Which columns: text columns named `id`, `…_id`, `key` or `token`. Their indexes are rebuilt.

-- Triggers on `UPDATE OF id` depend on the column's type: set aside while it changes.
DROP TRIGGER "ledger_accounts_id_kept" ON "ledger_accounts";
DROP TRIGGER "pocket_groups_id_kept" ON "pocket_groups";
DROP TRIGGER "pockets_id_kept" ON "pockets";

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.table_name, string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', c.column_name), ', ' ORDER BY c.column_name) AS changes
    FROM information_schema.columns c
    JOIN information_schema.tables r ON r.table_schema = c.table_schema AND r.table_name = c.table_name AND r.table_type = 'BASE TABLE'
    WHERE c.table_schema = current_schema() AND c.data_type = 'text'
      AND (c.column_name IN ('id', 'key', 'token') OR c.column_name LIKE '%\_id')
      AND c.table_name <> '_prisma_migrations'
    GROUP BY c.table_name
  LOOP
    EXECUTE format('ALTER TABLE %I %s', t.table_name, t.changes);
  END LOOP;
END
$$;

CREATE TRIGGER "ledger_accounts_id_kept" BEFORE UPDATE OF "id" ON "ledger_accounts" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pockets_id_kept" BEFORE UPDATE OF "id" ON "pockets" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pocket_groups_id_kept" BEFORE UPDATE OF "id" ON "pocket_groups" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
