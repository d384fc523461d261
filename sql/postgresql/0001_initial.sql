-- 0001: matches with odds, and the model registry (models, training_runs).
-- Names and columns of `models` and `training_runs` follow the legacy system exactly;
-- the columns after the legacy ones are what the service adds.

CREATE TYPE model_status AS ENUM (
    'active', 'archived', 'failed', 'training', 'queued', 'completed', 'cancelled'
);

CREATE TABLE leagues (
    id          SERIAL PRIMARY KEY,
    code        VARCHAR(16)  NOT NULL,
    name        VARCHAR(100) NOT NULL,
    country     VARCHAR(100) NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_leagues_code UNIQUE (code)
);

CREATE TABLE teams (
    id          SERIAL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    country     VARCHAR(100) NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_teams_country_name UNIQUE (country, name)
);

CREATE TABLE matches (
    id             BIGSERIAL PRIMARY KEY,
    league_id      INTEGER     NOT NULL REFERENCES leagues (id),
    season         VARCHAR(4)  NOT NULL,
    match_date     DATE        NOT NULL,
    kickoff_time   TIME,
    home_team_id   INTEGER     NOT NULL REFERENCES teams (id),
    away_team_id   INTEGER     NOT NULL REFERENCES teams (id),
    home_goals     SMALLINT    NOT NULL,
    away_goals     SMALLINT    NOT NULL,
    result         VARCHAR(1)  NOT NULL,
    ht_home_goals  SMALLINT,
    ht_away_goals  SMALLINT,
    ht_result      VARCHAR(1),
    source         VARCHAR(255),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_matches_fixture UNIQUE (league_id, match_date, home_team_id, away_team_id),
    CONSTRAINT ck_matches_distinct_teams CHECK (home_team_id <> away_team_id),
    CONSTRAINT ck_matches_goals CHECK (home_goals >= 0 AND away_goals >= 0),
    CONSTRAINT ck_matches_result CHECK (result IN ('H', 'D', 'A'))
);
CREATE INDEX ix_matches_match_date ON matches (match_date);
CREATE INDEX ix_matches_league_season ON matches (league_id, season);
CREATE INDEX ix_matches_home_team_id ON matches (home_team_id);
CREATE INDEX ix_matches_away_team_id ON matches (away_team_id);

-- Decimal odds, one row per match: 1X2 and over/under 2.5, pre-match and closing, for
-- Pinnacle, Bet365, the market average and the market maximum.
CREATE TABLE match_odds (
    match_id                BIGINT PRIMARY KEY REFERENCES matches (id) ON DELETE CASCADE,
    pinnacle_pre_h          DOUBLE PRECISION,
    pinnacle_pre_d          DOUBLE PRECISION,
    pinnacle_pre_a          DOUBLE PRECISION,
    pinnacle_close_h        DOUBLE PRECISION,
    pinnacle_close_d        DOUBLE PRECISION,
    pinnacle_close_a        DOUBLE PRECISION,
    b365_pre_h              DOUBLE PRECISION,
    b365_pre_d              DOUBLE PRECISION,
    b365_pre_a              DOUBLE PRECISION,
    b365_close_h            DOUBLE PRECISION,
    b365_close_d            DOUBLE PRECISION,
    b365_close_a            DOUBLE PRECISION,
    avg_pre_h               DOUBLE PRECISION,
    avg_pre_d               DOUBLE PRECISION,
    avg_pre_a               DOUBLE PRECISION,
    avg_close_h             DOUBLE PRECISION,
    avg_close_d             DOUBLE PRECISION,
    avg_close_a             DOUBLE PRECISION,
    max_pre_h               DOUBLE PRECISION,
    max_pre_d               DOUBLE PRECISION,
    max_pre_a               DOUBLE PRECISION,
    max_close_h             DOUBLE PRECISION,
    max_close_d             DOUBLE PRECISION,
    max_close_a             DOUBLE PRECISION,
    pinnacle_pre_over25     DOUBLE PRECISION,
    pinnacle_pre_under25    DOUBLE PRECISION,
    pinnacle_close_over25   DOUBLE PRECISION,
    pinnacle_close_under25  DOUBLE PRECISION,
    b365_pre_over25         DOUBLE PRECISION,
    b365_pre_under25        DOUBLE PRECISION,
    b365_close_over25       DOUBLE PRECISION,
    b365_close_under25      DOUBLE PRECISION,
    avg_pre_over25          DOUBLE PRECISION,
    avg_pre_under25         DOUBLE PRECISION,
    avg_close_over25        DOUBLE PRECISION,
    avg_close_under25       DOUBLE PRECISION,
    max_pre_over25          DOUBLE PRECISION,
    max_pre_under25         DOUBLE PRECISION,
    max_close_over25        DOUBLE PRECISION,
    max_close_under25       DOUBLE PRECISION
);

CREATE TABLE models (
    id                     SERIAL PRIMARY KEY,
    version                VARCHAR(64)  NOT NULL,
    model_type             VARCHAR(32)  NOT NULL,
    status                 model_status NOT NULL DEFAULT 'training',
    training_started_at    TIMESTAMPTZ,
    training_completed_at  TIMESTAMPTZ,
    training_matches       INTEGER,
    training_leagues       JSONB,
    training_seasons       JSONB,
    brier_score            DOUBLE PRECISION,
    log_loss               DOUBLE PRECISION,
    draw_accuracy          DOUBLE PRECISION,
    overall_accuracy       DOUBLE PRECISION,
    model_weights          JSONB,
    created_at             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- added by the service
    rps                    DOUBLE PRECISION,
    metrics                JSONB,
    config                 JSONB,
    CONSTRAINT uq_models_version UNIQUE (version)
);
-- At most one active model per model type, enforced by the database itself.
CREATE UNIQUE INDEX uq_models_one_active_per_type ON models (model_type) WHERE status = 'active';
CREATE INDEX ix_models_status ON models (status);

CREATE TABLE training_runs (
    id                   SERIAL PRIMARY KEY,
    model_id             INTEGER REFERENCES models (id) ON DELETE SET NULL,
    run_type             VARCHAR(32)  NOT NULL,
    status               model_status NOT NULL DEFAULT 'queued',
    started_at           TIMESTAMPTZ,
    completed_at         TIMESTAMPTZ,
    match_count          INTEGER,
    date_from            DATE,
    date_to              DATE,
    brier_score          DOUBLE PRECISION,
    log_loss             DOUBLE PRECISION,
    validation_accuracy  DOUBLE PRECISION,
    error_message        TEXT,
    logs                 JSONB,
    -- added by the service
    task_id              VARCHAR(64)  NOT NULL,
    rps                  DOUBLE PRECISION,
    metrics              JSONB,
    config               JSONB        NOT NULL DEFAULT '{}'::jsonb,
    progress             DOUBLE PRECISION NOT NULL DEFAULT 0,
    phase                VARCHAR(64),
    message              TEXT,
    worker               VARCHAR(255),
    heartbeat_at         TIMESTAMPTZ,
    cancel_requested     BOOLEAN      NOT NULL DEFAULT false,
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_training_runs_task_id UNIQUE (task_id),
    CONSTRAINT ck_training_runs_progress CHECK (progress >= 0 AND progress <= 100)
);
CREATE INDEX ix_training_runs_status ON training_runs (status);
CREATE INDEX ix_training_runs_created_at ON training_runs (created_at);
CREATE INDEX ix_training_runs_model_id ON training_runs (model_id);
