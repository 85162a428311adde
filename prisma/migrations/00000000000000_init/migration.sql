-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "charge_customers" (
    "id" SERIAL NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "cpf_cnpj" TEXT,
    "phone" TEXT,
    "email" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "charge_customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "charges" (
    "id" SERIAL NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "amount" BIGINT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'BRL',
    "description" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "interval" TEXT NOT NULL,
    "frequency" INTEGER NOT NULL,
    "installment_count" INTEGER NOT NULL,
    "due_date" DATE NOT NULL,
    "last_charge_date" DATE,
    "callback_url" TEXT,
    "auto_debit" BOOLEAN NOT NULL,
    "is_active" BOOLEAN NOT NULL,
    "status" TEXT NOT NULL,
    "payment_token" TEXT NOT NULL,
    "card_token" TEXT,
    "next_occurrence" INTEGER,
    "issue_after" DATE,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "charges_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "charge_installments" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "charge_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "due_date" DATE NOT NULL,
    "amount" BIGINT NOT NULL,
    "paid_amount" BIGINT NOT NULL DEFAULT 0,
    "discount" BIGINT NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL,
    "payment_date" DATE,
    "paid_at" TIMESTAMPTZ(3),
    "payment_method" TEXT,
    "payment_reference" TEXT,
    "transfer_id" TEXT,
    "debit_attempts" INTEGER NOT NULL DEFAULT 0,
    "next_debit_at" TIMESTAMPTZ(3),
    "debit_lease_until" TIMESTAMPTZ(3),
    "last_debit_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "charge_installments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "charge_callback_deliveries" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "charge_id" INTEGER NOT NULL,
    "event" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "retry_until" TIMESTAMPTZ(3) NOT NULL,
    "last_status" INTEGER,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "charge_callback_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "charge_callback_attempts" (
    "id" TEXT NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "attempted_at" TIMESTAMPTZ(3) NOT NULL,
    "response_status" INTEGER,
    "error" TEXT,

    CONSTRAINT "charge_callback_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "charge_callback_secrets" (
    "merchant_id" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "charge_callback_secrets_pkey" PRIMARY KEY ("merchant_id")
);

-- CreateTable
CREATE TABLE "merchants" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "company_id" TEXT NOT NULL,
    "scopes" TEXT[],
    "rights" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "merchants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credentials" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT,
    "kind" TEXT NOT NULL,
    "public_id" TEXT,
    "secret_hash" TEXT NOT NULL,
    "hint" TEXT NOT NULL,
    "scopes" TEXT[],
    "rights" TEXT[],
    "parent_id" TEXT,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credentials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_accounts" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "floor" BIGINT,
    "debits_posted" BIGINT NOT NULL DEFAULT 0,
    "credits_posted" BIGINT NOT NULL DEFAULT 0,
    "debits_pending" BIGINT NOT NULL DEFAULT 0,
    "credits_pending" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_transfers" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "debit_account_id" TEXT NOT NULL,
    "credit_account_id" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "currency" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "pending_id" TEXT,
    "resolved_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "code" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_transfers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "merchant_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("merchant_id","key")
);

-- CreateTable
CREATE TABLE "events" (
    "id" BIGSERIAL NOT NULL,
    "seq" BIGINT,
    "merchant_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "topic" TEXT NOT NULL,
    "object_id" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "event_cursor" (
    "id" INTEGER NOT NULL,
    "last_seq" BIGINT NOT NULL,

    CONSTRAINT "event_cursor_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoices" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "total_amount" BIGINT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'IRR',
    "mobile" TEXT,
    "email" TEXT,
    "status" TEXT NOT NULL,
    "paid_amount" BIGINT NOT NULL DEFAULT 0,
    "refunded_amount" BIGINT NOT NULL DEFAULT 0,
    "canceled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_payments" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "invoice_id" TEXT NOT NULL,
    "gateway" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'IRR',
    "description" TEXT NOT NULL,
    "mobile" TEXT,
    "email" TEXT,
    "state" TEXT NOT NULL,
    "reason" TEXT,
    "authority" TEXT,
    "redirect_url" TEXT,
    "ref_id" TEXT,
    "card_pan" TEXT,
    "transaction_id" TEXT,
    "refunded_amount" BIGINT NOT NULL DEFAULT 0,
    "note" TEXT,
    "checks" INTEGER NOT NULL DEFAULT 0,
    "waiting_since" TIMESTAMPTZ(3),
    "last_checked_at" TIMESTAMPTZ(3),
    "verified_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_payment_attempts" (
    "id" TEXT NOT NULL,
    "payment_id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "gateway" TEXT NOT NULL,
    "authority" TEXT NOT NULL,
    "redirect_url" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "reason" TEXT,
    "ref_id" TEXT,
    "transaction_id" TEXT,
    "card_pan" TEXT,
    "verified_amount" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_payment_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_payment_transitions" (
    "id" BIGSERIAL NOT NULL,
    "payment_id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "from" TEXT,
    "to" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_payment_transitions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_payment_refunds" (
    "id" TEXT NOT NULL,
    "payment_id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "reference" TEXT,
    "ledger_transfer_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_payment_refunds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "invoice_gateway_credentials" (
    "merchant_id" TEXT NOT NULL,
    "gateway" TEXT NOT NULL,
    "credential" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_gateway_credentials_pkey" PRIMARY KEY ("merchant_id","gateway")
);

-- CreateTable
CREATE TABLE "invoice_ready_to_pay_links" (
    "id" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "amount" BIGINT,
    "description" TEXT,
    "user_full_name" TEXT NOT NULL,
    "mobile" TEXT NOT NULL,
    "gateway" TEXT,
    "invoice_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "invoice_ready_to_pay_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pocket_groups" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT,
    "currency" TEXT NOT NULL DEFAULT 'IRR',
    "funding_account_id" TEXT NOT NULL,
    "cap" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pocket_groups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pockets" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "group_id" TEXT NOT NULL,
    "phone_number" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pockets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pocket_charges" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "group_id" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "phone_number" TEXT NOT NULL,
    "amount" BIGINT,
    "status" TEXT NOT NULL,
    "error_code" TEXT,
    "pocket_id" TEXT,
    "transfer_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pocket_charges_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recharge_providers" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "currency" TEXT NOT NULL,
    "expires_in_seconds" INTEGER NOT NULL,
    "last_payment_no" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "recharge_providers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recharge_payments" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "provider_id" TEXT NOT NULL,
    "payment_no" INTEGER NOT NULL,
    "user_id" BIGINT NOT NULL,
    "amount" BIGINT NOT NULL,
    "currency" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "reason" TEXT,
    "expired" BOOLEAN NOT NULL DEFAULT false,
    "transfer_id" TEXT NOT NULL,
    "revision" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "committed_at" TIMESTAMPTZ(3),
    "rolled_back_at" TIMESTAMPTZ(3),

    CONSTRAINT "recharge_payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wallet_users" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "wallet_users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wallets" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "wallets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wallet_transactions" (
    "id" TEXT NOT NULL,
    "txn_number" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "wallet_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "amount" BIGINT NOT NULL,
    "fee" BIGINT NOT NULL,
    "credited_amount" BIGINT NOT NULL,
    "txn_code" TEXT NOT NULL,
    "payment_mode" INTEGER NOT NULL,
    "charges" JSONB NOT NULL,
    "note" TEXT,
    "agent_user_id" TEXT,
    "agent_payment_type" TEXT,
    "user_payment_type" TEXT,
    "card_info" JSONB,
    "payment_response" JSONB,
    "device_ids" TEXT[],
    "request_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "wallet_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "wallet_fee_rules" (
    "id" TEXT NOT NULL,
    "merchant_id" TEXT NOT NULL,
    "txn_code" TEXT NOT NULL,
    "payment_mode" INTEGER,
    "currency" TEXT NOT NULL,
    "fixed" BIGINT NOT NULL,
    "percent_basis_points" INTEGER NOT NULL,
    "min" BIGINT,
    "max" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "wallet_fee_rules_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "charge_customers_merchant_id_id_idx" ON "charge_customers"("merchant_id", "id");

-- CreateIndex
CREATE UNIQUE INDEX "charge_customers_merchant_id_cpf_cnpj_key" ON "charge_customers"("merchant_id", "cpf_cnpj");

-- CreateIndex
CREATE UNIQUE INDEX "charges_payment_token_key" ON "charges"("payment_token");

-- CreateIndex
CREATE INDEX "charges_merchant_id_id_idx" ON "charges"("merchant_id", "id");

-- CreateIndex
CREATE INDEX "charges_merchant_id_status_idx" ON "charges"("merchant_id", "status");

-- CreateIndex
CREATE INDEX "charges_customer_id_idx" ON "charges"("customer_id");

-- CreateIndex
CREATE INDEX "charges_type_is_active_issue_after_idx" ON "charges"("type", "is_active", "issue_after");

-- CreateIndex
CREATE INDEX "charge_installments_status_due_date_idx" ON "charge_installments"("status", "due_date");

-- CreateIndex
CREATE UNIQUE INDEX "charge_installments_charge_id_number_key" ON "charge_installments"("charge_id", "number");

-- CreateIndex
CREATE INDEX "charge_callback_deliveries_status_next_attempt_at_idx" ON "charge_callback_deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "charge_callback_deliveries_charge_id_created_at_idx" ON "charge_callback_deliveries"("charge_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "charge_callback_attempts_delivery_id_number_key" ON "charge_callback_attempts"("delivery_id", "number");

-- CreateIndex
CREATE UNIQUE INDEX "merchants_company_id_key" ON "merchants"("company_id");

-- CreateIndex
CREATE INDEX "credentials_merchant_id_idx" ON "credentials"("merchant_id");

-- CreateIndex
CREATE UNIQUE INDEX "credentials_secret_hash_key" ON "credentials"("secret_hash");

-- CreateIndex
CREATE UNIQUE INDEX "credentials_kind_public_id_key" ON "credentials"("kind", "public_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_accounts_merchant_id_name_key" ON "ledger_accounts"("merchant_id", "name");

-- CreateIndex
CREATE INDEX "ledger_transfers_debit_account_id_idx" ON "ledger_transfers"("debit_account_id");

-- CreateIndex
CREATE INDEX "ledger_transfers_credit_account_id_idx" ON "ledger_transfers"("credit_account_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transfers_merchant_id_key_key" ON "ledger_transfers"("merchant_id", "key");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transfers_pending_id_key" ON "ledger_transfers"("pending_id");

-- CreateIndex
CREATE UNIQUE INDEX "events_seq_key" ON "events"("seq");

-- CreateIndex
CREATE INDEX "events_merchant_id_seq_idx" ON "events"("merchant_id", "seq");

-- CreateIndex
CREATE INDEX "events_published_at_seq_idx" ON "events"("published_at", "seq");

-- CreateIndex
CREATE INDEX "invoices_merchant_id_created_at_idx" ON "invoices"("merchant_id", "created_at");

-- CreateIndex
CREATE INDEX "invoices_merchant_id_status_idx" ON "invoices"("merchant_id", "status");

-- CreateIndex
CREATE INDEX "invoice_payments_merchant_id_state_idx" ON "invoice_payments"("merchant_id", "state");

-- CreateIndex
CREATE INDEX "invoice_payments_state_waiting_since_idx" ON "invoice_payments"("state", "waiting_since");

-- CreateIndex
CREATE INDEX "invoice_payments_invoice_id_idx" ON "invoice_payments"("invoice_id");

-- CreateIndex
CREATE INDEX "invoice_payment_attempts_payment_id_idx" ON "invoice_payment_attempts"("payment_id");

-- CreateIndex
CREATE INDEX "invoice_payment_attempts_status_idx" ON "invoice_payment_attempts"("status");

-- CreateIndex
CREATE UNIQUE INDEX "invoice_payment_attempts_gateway_authority_key" ON "invoice_payment_attempts"("gateway", "authority");

-- CreateIndex
CREATE INDEX "invoice_payment_transitions_payment_id_id_idx" ON "invoice_payment_transitions"("payment_id", "id");

-- CreateIndex
CREATE INDEX "invoice_payment_refunds_payment_id_idx" ON "invoice_payment_refunds"("payment_id");

-- CreateIndex
CREATE UNIQUE INDEX "invoice_ready_to_pay_links_token_hash_key" ON "invoice_ready_to_pay_links"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "invoice_ready_to_pay_links_invoice_id_key" ON "invoice_ready_to_pay_links"("invoice_id");

-- CreateIndex
CREATE INDEX "invoice_ready_to_pay_links_merchant_id_idx" ON "invoice_ready_to_pay_links"("merchant_id");

-- CreateIndex
CREATE UNIQUE INDEX "pocket_groups_merchant_id_slug_key" ON "pocket_groups"("merchant_id", "slug");

-- CreateIndex
CREATE INDEX "pockets_merchant_id_idx" ON "pockets"("merchant_id");

-- CreateIndex
CREATE UNIQUE INDEX "pockets_group_id_phone_number_key" ON "pockets"("group_id", "phone_number");

-- CreateIndex
CREATE INDEX "pocket_charges_group_id_created_at_idx" ON "pocket_charges"("group_id", "created_at");

-- CreateIndex
CREATE INDEX "pocket_charges_pocket_id_idx" ON "pocket_charges"("pocket_id");

-- CreateIndex
CREATE UNIQUE INDEX "pocket_charges_merchant_id_token_key" ON "pocket_charges"("merchant_id", "token");

-- CreateIndex
CREATE UNIQUE INDEX "recharge_providers_merchant_id_reference_key" ON "recharge_providers"("merchant_id", "reference");

-- CreateIndex
CREATE INDEX "recharge_payments_merchant_id_idx" ON "recharge_payments"("merchant_id");

-- CreateIndex
CREATE INDEX "recharge_payments_provider_id_user_id_idx" ON "recharge_payments"("provider_id", "user_id");

-- CreateIndex
CREATE INDEX "recharge_payments_state_expires_at_idx" ON "recharge_payments"("state", "expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "recharge_payments_provider_id_payment_no_key" ON "recharge_payments"("provider_id", "payment_no");

-- CreateIndex
CREATE UNIQUE INDEX "wallet_users_merchant_id_username_key" ON "wallet_users"("merchant_id", "username");

-- CreateIndex
CREATE INDEX "wallets_merchant_id_idx" ON "wallets"("merchant_id");

-- CreateIndex
CREATE UNIQUE INDEX "wallets_user_id_currency_key" ON "wallets"("user_id", "currency");

-- CreateIndex
CREATE INDEX "wallet_transactions_wallet_id_created_at_idx" ON "wallet_transactions"("wallet_id", "created_at");

-- CreateIndex
CREATE INDEX "wallet_transactions_merchant_id_created_at_idx" ON "wallet_transactions"("merchant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "wallet_transactions_merchant_id_request_id_key" ON "wallet_transactions"("merchant_id", "request_id");

-- CreateIndex
CREATE INDEX "wallet_fee_rules_merchant_id_txn_code_currency_idx" ON "wallet_fee_rules"("merchant_id", "txn_code", "currency");

-- AddForeignKey
ALTER TABLE "charges" ADD CONSTRAINT "charges_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "charge_customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "charge_installments" ADD CONSTRAINT "charge_installments_charge_id_fkey" FOREIGN KEY ("charge_id") REFERENCES "charges"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "charge_callback_deliveries" ADD CONSTRAINT "charge_callback_deliveries_charge_id_fkey" FOREIGN KEY ("charge_id") REFERENCES "charges"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "charge_callback_attempts" ADD CONSTRAINT "charge_callback_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "charge_callback_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_merchant_id_fkey" FOREIGN KEY ("merchant_id") REFERENCES "merchants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_transfers" ADD CONSTRAINT "ledger_transfers_debit_account_id_fkey" FOREIGN KEY ("debit_account_id") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_transfers" ADD CONSTRAINT "ledger_transfers_credit_account_id_fkey" FOREIGN KEY ("credit_account_id") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_payments" ADD CONSTRAINT "invoice_payments_invoice_id_fkey" FOREIGN KEY ("invoice_id") REFERENCES "invoices"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_payment_attempts" ADD CONSTRAINT "invoice_payment_attempts_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "invoice_payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_payment_transitions" ADD CONSTRAINT "invoice_payment_transitions_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "invoice_payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "invoice_payment_refunds" ADD CONSTRAINT "invoice_payment_refunds_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "invoice_payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pockets" ADD CONSTRAINT "pockets_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "pocket_groups"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pocket_charges" ADD CONSTRAINT "pocket_charges_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "pocket_groups"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pocket_charges" ADD CONSTRAINT "pocket_charges_pocket_id_fkey" FOREIGN KEY ("pocket_id") REFERENCES "pockets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recharge_payments" ADD CONSTRAINT "recharge_payments_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "recharge_providers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "wallet_users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "wallet_transactions" ADD CONSTRAINT "wallet_transactions_wallet_id_fkey" FOREIGN KEY ("wallet_id") REFERENCES "wallets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

