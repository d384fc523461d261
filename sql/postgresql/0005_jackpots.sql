-- 0005: the legacy app's jackpot workflow and data pages.  A jackpot's probabilities are
-- computed once, at creation, and frozen with the model versions that made them, so that
-- validation scores what the user saw.  Saved results hold the user's picks per set and the
-- actual results; templates are saved fixture lists; data_batches logs data downloads.

CREATE TABLE jackpots (
    id                  SERIAL PRIMARY KEY,
    public_id           VARCHAR(64)  NOT NULL,
    name                VARCHAR(255) NOT NULL,
    model_version       VARCHAR(64)  NOT NULL,
    draw_model_version  VARCHAR(64),
    status              VARCHAR(32)  NOT NULL DEFAULT 'calculated',
    warnings            JSONB        NOT NULL DEFAULT '[]'::jsonb,
    created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_jackpots_public_id UNIQUE (public_id)
);
CREATE INDEX ix_jackpots_created_at ON jackpots (created_at);

CREATE TABLE jackpot_fixtures (
    id             SERIAL PRIMARY KEY,
    jackpot_id     INTEGER      NOT NULL REFERENCES jackpots (id) ON DELETE CASCADE,
    position       INTEGER      NOT NULL,
    fixture_id     VARCHAR(64)  NOT NULL,
    home_team      VARCHAR(100) NOT NULL,
    away_team      VARCHAR(100) NOT NULL,
    home_odds      DOUBLE PRECISION NOT NULL,
    draw_odds      DOUBLE PRECISION NOT NULL,
    away_odds      DOUBLE PRECISION NOT NULL,
    match_date     VARCHAR(32),
    league         VARCHAR(100),
    probabilities  JSONB        NOT NULL,
    CONSTRAINT uq_jackpot_fixtures_position UNIQUE (jackpot_id, position),
    CONSTRAINT uq_jackpot_fixtures_fixture_id UNIQUE (jackpot_id, fixture_id),
    CONSTRAINT ck_jackpot_fixtures_odds CHECK (
        home_odds >= 1.01 AND home_odds <= 1000 AND draw_odds >= 1.01 AND draw_odds <= 1000
        AND away_odds >= 1.01 AND away_odds <= 1000)
);

CREATE TABLE jackpot_saved_results (
    id              SERIAL PRIMARY KEY,
    jackpot_id      INTEGER      NOT NULL REFERENCES jackpots (id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    selections      JSONB        NOT NULL DEFAULT '{}'::jsonb,
    actual_results  JSONB        NOT NULL DEFAULT '{}'::jsonb,
    scores          JSONB        NOT NULL DEFAULT '{}'::jsonb,
    model_version   VARCHAR(64)  NOT NULL,
    total_fixtures  INTEGER      NOT NULL,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX ix_jackpot_saved_results_jackpot_id ON jackpot_saved_results (jackpot_id);
CREATE INDEX ix_jackpot_saved_results_created_at ON jackpot_saved_results (created_at);

CREATE TABLE jackpot_templates (
    id           SERIAL PRIMARY KEY,
    name         VARCHAR(255) NOT NULL,
    description  TEXT,
    fixtures     JSONB        NOT NULL,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE data_batches (
    id            SERIAL PRIMARY KEY,
    batch_id      VARCHAR(64)  NOT NULL,
    source        VARCHAR(64)  NOT NULL,
    status        VARCHAR(32)  NOT NULL,
    request       JSONB        NOT NULL,
    results       JSONB        NOT NULL DEFAULT '[]'::jsonb,
    total_stats   JSONB        NOT NULL DEFAULT '{}'::jsonb,
    started_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    completed_at  TIMESTAMPTZ,
    CONSTRAINT uq_data_batches_batch_id UNIQUE (batch_id)
);
CREATE INDEX ix_data_batches_started_at ON data_batches (started_at);
