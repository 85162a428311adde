-- Transfers were indexed by debit and by credit account for their foreign keys, which migration
-- statement_reference_checks replaced; no query reads transfers by account (`ledger verify` reads
-- them all). Each transfer wrote two index entries for nothing: for a batch of 1,000 pocket charges
-- a tenth of PostgreSQL's time. An account statement, when there is one, gets the index its query
-- needs.

DROP INDEX "ledger_transfers_debit_account_id_idx";

DROP INDEX "ledger_transfers_credit_account_id_idx";
