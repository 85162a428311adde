-- A card debit whose answer never came (a timeout after the processor charged the card) was known
-- only to the scheduler's retry of the same auto-debit, by its key; a payment-page try, the other
-- debit path or a merchant's payment could then pay the installment again. The debit in doubt is
-- now kept on the installment, as sent, and asked again before anything else may pay it (see
-- src/modules/charges/debits.ts).

ALTER TABLE "charge_installments" ADD COLUMN "debit_amount" BIGINT,
ADD COLUMN "debit_card" TEXT,
ADD COLUMN "debit_key" TEXT;
