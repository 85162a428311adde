-- Ledger transfers and pocket charges are written a batch at a time, up to thousands of rows in one
-- statement. Their foreign keys checked each row on its own (two trigger calls per row, each a
-- query and a row lock): a third of a batch's time. They are replaced by checks run once per
-- statement over all the rows it wrote, with the same guarantee: no row names an account, pocket
-- or group that does not exist. The foreign keys also kept a referenced row from being deleted or
-- renumbered while rows point to it; accounts, pockets and groups are never deleted, and their ids
-- never change, so both are refused outright.

ALTER TABLE "ledger_transfers" DROP CONSTRAINT "ledger_transfers_debit_account_id_fkey";
ALTER TABLE "ledger_transfers" DROP CONSTRAINT "ledger_transfers_credit_account_id_fkey";
ALTER TABLE "pocket_charges" DROP CONSTRAINT "pocket_charges_group_id_fkey";
ALTER TABLE "pocket_charges" DROP CONSTRAINT "pocket_charges_pocket_id_fkey";

CREATE FUNCTION "ledger_transfers_accounts_exist"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM "written" w
    WHERE NOT EXISTS (SELECT 1 FROM "ledger_accounts" a WHERE a."id" = w."debit_account_id")
       OR NOT EXISTS (SELECT 1 FROM "ledger_accounts" a WHERE a."id" = w."credit_account_id")
  ) THEN
    RAISE EXCEPTION 'a ledger transfer names an account that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER "ledger_transfers_accounts_exist_insert" AFTER INSERT ON "ledger_transfers"
  REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_transfers_accounts_exist"();
CREATE TRIGGER "ledger_transfers_accounts_exist_update" AFTER UPDATE ON "ledger_transfers"
  REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_transfers_accounts_exist"();

CREATE FUNCTION "pocket_charges_references_exist"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM "written" w
    WHERE NOT EXISTS (SELECT 1 FROM "pocket_groups" g WHERE g."id" = w."group_id")
       OR (w."pocket_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "pockets" p WHERE p."id" = w."pocket_id"))
  ) THEN
    RAISE EXCEPTION 'a pocket charge names a pocket or group that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER "pocket_charges_references_exist_insert" AFTER INSERT ON "pocket_charges"
  REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION "pocket_charges_references_exist"();
CREATE TRIGGER "pocket_charges_references_exist_update" AFTER UPDATE ON "pocket_charges"
  REFERENCING NEW TABLE AS "written" FOR EACH STATEMENT EXECUTE FUNCTION "pocket_charges_references_exist"();

CREATE FUNCTION "refuse_change_of_kept_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are kept: they are never deleted and their ids never change', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER "ledger_accounts_kept" BEFORE DELETE OR TRUNCATE ON "ledger_accounts" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "ledger_accounts_id_kept" BEFORE UPDATE OF "id" ON "ledger_accounts" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pockets_kept" BEFORE DELETE OR TRUNCATE ON "pockets" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pockets_id_kept" BEFORE UPDATE OF "id" ON "pockets" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pocket_groups_kept" BEFORE DELETE OR TRUNCATE ON "pocket_groups" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_change_of_kept_rows"();
CREATE TRIGGER "pocket_groups_id_kept" BEFORE UPDATE OF "id" ON "pocket_groups" FOR EACH ROW
  WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION "refuse_change_of_kept_rows"();
