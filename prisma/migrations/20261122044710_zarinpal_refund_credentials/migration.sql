-- AlterTable
ALTER TABLE "invoice_gateway_credentials" ADD COLUMN     "access_token" TEXT,
ADD COLUMN     "terminal_id" TEXT;

