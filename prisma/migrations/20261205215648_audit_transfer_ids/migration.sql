-- An audit record names the transfers it covers by id. It repeated each one whole (id, code, kind,
-- amount, currency, accounts, pending transfer: some 250 bytes of JSON per transfer, a quarter of a
-- megabyte for a batch of 1,000 pocket charges), written, parsed, compressed and logged a second
-- time beside the ledger's own row. The API and the CLI still answer every transfer whole, read
-- from the ledger, which now keeps its transfers as it keeps its accounts: never deleted, and what a
-- record shows of them never changes (only a pending transfer's resolution time is ever set).

ALTER TABLE "audit_log" ADD COLUMN "transfer_ids" TEXT[] COLLATE "C";
UPDATE "audit_log" SET "transfer_ids" =
  ARRAY(SELECT t."value" ->> 'id' FROM json_array_elements("transfers") WITH ORDINALITY AS t("value", "n") ORDER BY t."n");
ALTER TABLE "audit_log" ALTER COLUMN "transfer_ids" SET NOT NULL;
ALTER TABLE "audit_log" DROP COLUMN "transfers";

CREATE FUNCTION "refuse_change_of_transfers"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger transfers are kept: they are never deleted, and only a pending transfer''s resolution time is ever set' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER "ledger_transfers_kept" BEFORE DELETE OR TRUNCATE ON "ledger_transfers"
  FOR EACH STATEMENT EXECUTE FUNCTION "refuse_change_of_transfers"();
CREATE TRIGGER "ledger_transfers_facts_kept" BEFORE UPDATE ON "ledger_transfers" FOR EACH ROW
  WHEN ((OLD."id", OLD."merchant_id", OLD."key", OLD."debit_account_id", OLD."credit_account_id", OLD."amount", OLD."currency",
         OLD."kind", OLD."pending_id", OLD."expires_at", OLD."code", OLD."created_at")
        IS DISTINCT FROM
        (NEW."id", NEW."merchant_id", NEW."key", NEW."debit_account_id", NEW."credit_account_id", NEW."amount", NEW."currency",
         NEW."kind", NEW."pending_id", NEW."expires_at", NEW."code", NEW."created_at"))
  EXECUTE FUNCTION "refuse_change_of_transfers"();
-- An update can no longer name other accounts: its check of them would only cost every resolution.
DROP TRIGGER "ledger_transfers_accounts_exist_update" ON "ledger_transfers";
