-- AlterTable
ALTER TABLE "invoice_payments" ADD COLUMN     "refund_pending_amount" BIGINT NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "invoice_payment_refunds" ADD COLUMN     "method" TEXT,
ADD COLUMN     "note" TEXT,
ADD COLUMN     "resolved_at" TIMESTAMPTZ(3),
ADD COLUMN     "resolved_by" TEXT,
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'refunded',
ALTER COLUMN "ledger_transfer_id" DROP NOT NULL;

-- AlterTable
ALTER TABLE "invoice_ready_to_pay_links" ADD COLUMN     "expires_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "invoice_payment_refunds_status_idx" ON "invoice_payment_refunds"("status");


-- At most one refund of a payment is pending at a time (a partial index Prisma cannot describe).
CREATE UNIQUE INDEX "invoice_payment_refunds_one_pending_idx" ON "invoice_payment_refunds"("payment_id") WHERE "status" = 'pending';
