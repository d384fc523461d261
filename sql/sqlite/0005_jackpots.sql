-- 0005: the legacy app's jackpot workflow and data pages.  A jackpot's probabilities are
-- computed once, at creation, and frozen with the model versions that made them, so that
-- validation scores what the user saw.  Saved results hold the user's picks per set and the
-- actual results; templates are saved fixture lists; data_batches logs data downloads.

CREATE TABLE jackpots (
    id                  INTEGER NOT NULL PRIMARY KEY,
    public_id           VARCHAR(64)  NOT NULL,
    name                VARCHAR(255) NOT NULL,
    model_version       VARCHAR(64)  NOT NULL,
    draw_model_version  VARCHAR(64),
    status              VARCHAR(32)  NOT NULL DEFAULT 'calculated',
    warnings            JSON         NOT NULL DEFAULT '[]',
    created_at          DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_jackpots_public_id UNIQUE (public_id)
);
CREATE INDEX ix_jackpots_created_at ON jackpots (created_at);

CREATE TABLE jackpot_fixtures (
    id             INTEGER NOT NULL PRIMARY KEY,
    jackpot_id     INTEGER      NOT NULL,
    position       INTEGER      NOT NULL,
    fixture_id     VARCHAR(64)  NOT NULL,
    home_team      VARCHAR(100) NOT NULL,
    away_team      VARCHAR(100) NOT NULL,
    home_odds      DOUBLE NOT NULL,
    draw_odds      DOUBLE NOT NULL,
    away_odds      DOUBLE NOT NULL,
    match_date     VARCHAR(32),
    league         VARCHAR(100),
    probabilities  JSON         NOT NULL,
    CONSTRAINT fk_jackpot_fixtures_jackpot FOREIGN KEY (jackpot_id) REFERENCES jackpots (id)
        ON DELETE CASCADE,
    CONSTRAINT uq_jackpot_fixtures_position UNIQUE (jackpot_id, position),
    CONSTRAINT uq_jackpot_fixtures_fixture_id UNIQUE (jackpot_id, fixture_id),
    CONSTRAINT ck_jackpot_fixtures_odds CHECK (
        home_odds >= 1.01 AND home_odds <= 1000 AND draw_odds >= 1.01 AND draw_odds <= 1000
        AND away_odds >= 1.01 AND away_odds <= 1000)
);

CREATE TABLE jackpot_saved_results (
    id              INTEGER NOT NULL PRIMARY KEY,
    jackpot_id      INTEGER      NOT NULL,
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    selections      JSON         NOT NULL DEFAULT '{}',
    actual_results  JSON         NOT NULL DEFAULT '{}',
    scores          JSON         NOT NULL DEFAULT '{}',
    model_version   VARCHAR(64)  NOT NULL,
    total_fixtures  INTEGER      NOT NULL,
    created_at      DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    updated_at      DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT fk_jackpot_saved_results_jackpot FOREIGN KEY (jackpot_id) REFERENCES jackpots (id)
        ON DELETE CASCADE
);
CREATE INDEX ix_jackpot_saved_results_jackpot_id ON jackpot_saved_results (jackpot_id);
CREATE INDEX ix_jackpot_saved_results_created_at ON jackpot_saved_results (created_at);

CREATE TABLE jackpot_templates (
    id           INTEGER NOT NULL PRIMARY KEY,
    name         VARCHAR(255) NOT NULL,
    description  TEXT,
    fixtures     JSON         NOT NULL,
    created_at   DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    updated_at   DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP)
);

CREATE TABLE data_batches (
    id            INTEGER NOT NULL PRIMARY KEY,
    batch_id      VARCHAR(64)  NOT NULL,
    source        VARCHAR(64)  NOT NULL,
    status        VARCHAR(32)  NOT NULL,
    request       JSON         NOT NULL,
    results       JSON         NOT NULL DEFAULT '[]',
    total_stats   JSON         NOT NULL DEFAULT '{}',
    started_at    DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    completed_at  DATETIME,
    CONSTRAINT uq_data_batches_batch_id UNIQUE (batch_id)
);
CREATE INDEX ix_data_batches_started_at ON data_batches (started_at);
