-- 0002: an idempotency key per training run, so that a retried startTraining (GraphQL
-- argument, REST Idempotency-Key header) returns the run it created instead of a duplicate.
-- A unique index, not a constraint, so that both dialects describe it the same way.

ALTER TABLE training_runs ADD COLUMN idempotency_key VARCHAR(255);
CREATE UNIQUE INDEX uq_training_runs_idempotency_key ON training_runs (idempotency_key);
