-- AlterTable
ALTER TABLE "credentials" ADD COLUMN     "staff_id" TEXT;

-- CreateTable
CREATE TABLE "audit_log" (
    "id" TEXT NOT NULL,
    "transaction_key" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "actor_kind" TEXT NOT NULL,
    "credential_id" TEXT,
    "credential_kind" TEXT,
    "staff_id" TEXT,
    "operator" TEXT,
    "action" TEXT NOT NULL,
    "request_id" TEXT,
    "reason" TEXT,
    "transfers" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "audit_log_merchant_id_created_at_idx" ON "audit_log"("merchant_id", "created_at");

-- CreateIndex
CREATE INDEX "audit_log_created_at_idx" ON "audit_log"("created_at");

-- CreateIndex
CREATE INDEX "audit_log_request_id_idx" ON "audit_log"("request_id");

-- CreateIndex
CREATE UNIQUE INDEX "audit_log_transaction_key_merchant_id_key" ON "audit_log"("transaction_key", "merchant_id");

