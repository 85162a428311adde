-- DropIndex
DROP INDEX "recharge_payments_merchant_id_idx";

-- CreateIndex
CREATE INDEX "invoice_payments_merchant_id_created_at_idx" ON "invoice_payments"("merchant_id", "created_at");

-- CreateIndex
CREATE INDEX "pocket_charges_merchant_id_id_idx" ON "pocket_charges"("merchant_id", "id");

-- CreateIndex
CREATE INDEX "recharge_payments_merchant_id_created_at_idx" ON "recharge_payments"("merchant_id", "created_at");

