-- A wallet top-up's request id doubles as its idempotency key, and was stored as the key
-- `wallet-topup:<request id>` among the keys clients send to every other operation: a client key
-- of that form, used for an invoice say, made the top-up with that request id fail as a reused key.
-- Keys now live in namespaces: '' for the keys clients send, shared by every operation as before;
-- `wallet-topup` for top-ups' request ids, which no client key can meet.

ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_pkey",
ADD COLUMN     "namespace" TEXT NOT NULL DEFAULT '',
ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("merchant_id", "namespace", "key");

UPDATE "idempotency_keys" SET "namespace" = 'wallet-topup', "key" = substr("key", length('wallet-topup:') + 1)
WHERE "scope" = 'wallets:topup' AND "key" LIKE 'wallet-topup:%';
