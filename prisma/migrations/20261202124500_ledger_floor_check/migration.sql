-- The ledger settles a batch of transfers in the same statement that writes them (see
-- prepareTransfers): when a debited account's floor would not hold, that statement must fail as a
-- whole, with an error its caller can tell apart. SQL has no way to raise one; this function does.
CREATE FUNCTION "ledger_floor_holds"("holds" BOOLEAN) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "holds" THEN
    RAISE EXCEPTION 'a debited account''s floor would not hold' USING ERRCODE = 'LF001';
  END IF;
  RETURN TRUE;
END
$$;
