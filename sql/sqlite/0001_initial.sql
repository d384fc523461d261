-- 0001 (SQLite, the embedded default): the same tables as postgresql/0001_initial.sql.
-- SQLite has no enum, JSONB or time zones: model_status is a checked VARCHAR, JSON is text,
-- timestamps are stored in UTC.
-- Names and columns of `models` and `training_runs` follow the legacy system exactly;
-- the columns after the legacy ones are what the service adds.

CREATE TABLE leagues (
    id          INTEGER NOT NULL PRIMARY KEY,
    code        VARCHAR(16)  NOT NULL,
    name        VARCHAR(100) NOT NULL,
    country     VARCHAR(100) NOT NULL,
    created_at  DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_leagues_code UNIQUE (code)
);

CREATE TABLE teams (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    country     VARCHAR(100) NOT NULL,
    created_at  DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_teams_country_name UNIQUE (country, name)
);

CREATE TABLE matches (
    id             INTEGER NOT NULL PRIMARY KEY,
    league_id      INTEGER     NOT NULL,
    season         VARCHAR(4)  NOT NULL,
    match_date     DATE        NOT NULL,
    kickoff_time   TIME,
    home_team_id   INTEGER     NOT NULL,
    away_team_id   INTEGER     NOT NULL,
    home_goals     SMALLINT    NOT NULL,
    away_goals     SMALLINT    NOT NULL,
    result         VARCHAR(1)  NOT NULL,
    ht_home_goals  SMALLINT,
    ht_away_goals  SMALLINT,
    ht_result      VARCHAR(1),
    source         VARCHAR(255),
    created_at     DATETIME    NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    updated_at     DATETIME    NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_matches_fixture UNIQUE (league_id, match_date, home_team_id, away_team_id),
    CONSTRAINT fk_matches_league FOREIGN KEY (league_id) REFERENCES leagues (id),
    CONSTRAINT fk_matches_home_team FOREIGN KEY (home_team_id) REFERENCES teams (id),
    CONSTRAINT fk_matches_away_team FOREIGN KEY (away_team_id) REFERENCES teams (id),
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
    match_id                INTEGER NOT NULL PRIMARY KEY,
    pinnacle_pre_h          DOUBLE,
    pinnacle_pre_d          DOUBLE,
    pinnacle_pre_a          DOUBLE,
    pinnacle_close_h        DOUBLE,
    pinnacle_close_d        DOUBLE,
    pinnacle_close_a        DOUBLE,
    b365_pre_h              DOUBLE,
    b365_pre_d              DOUBLE,
    b365_pre_a              DOUBLE,
    b365_close_h            DOUBLE,
    b365_close_d            DOUBLE,
    b365_close_a            DOUBLE,
    avg_pre_h               DOUBLE,
    avg_pre_d               DOUBLE,
    avg_pre_a               DOUBLE,
    avg_close_h             DOUBLE,
    avg_close_d             DOUBLE,
    avg_close_a             DOUBLE,
    max_pre_h               DOUBLE,
    max_pre_d               DOUBLE,
    max_pre_a               DOUBLE,
    max_close_h             DOUBLE,
    max_close_d             DOUBLE,
    max_close_a             DOUBLE,
    pinnacle_pre_over25     DOUBLE,
    pinnacle_pre_under25    DOUBLE,
    pinnacle_close_over25   DOUBLE,
    pinnacle_close_under25  DOUBLE,
    b365_pre_over25         DOUBLE,
    b365_pre_under25        DOUBLE,
    b365_close_over25       DOUBLE,
    b365_close_under25      DOUBLE,
    avg_pre_over25          DOUBLE,
    avg_pre_under25         DOUBLE,
    avg_close_over25        DOUBLE,
    avg_close_under25       DOUBLE,
    max_pre_over25          DOUBLE,
    max_pre_under25         DOUBLE,
    max_close_over25        DOUBLE,
    max_close_under25       DOUBLE,
    CONSTRAINT fk_match_odds_match FOREIGN KEY (match_id) REFERENCES matches (id) ON DELETE CASCADE
);

CREATE TABLE models (
    id                     INTEGER NOT NULL PRIMARY KEY,
    version                VARCHAR(64)  NOT NULL,
    model_type             VARCHAR(32)  NOT NULL,
    status                 VARCHAR(9)   NOT NULL DEFAULT 'training',
    training_started_at    DATETIME,
    training_completed_at  DATETIME,
    training_matches       INTEGER,
    training_leagues       JSON,
    training_seasons       JSON,
    brier_score            DOUBLE,
    log_loss               DOUBLE,
    draw_accuracy          DOUBLE,
    overall_accuracy       DOUBLE,
    model_weights          JSON,
    created_at             DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    -- added by the service
    rps                    DOUBLE,
    metrics                JSON,
    config                 JSON,
    CONSTRAINT uq_models_version UNIQUE (version),
    CONSTRAINT model_status CHECK (status IN ('active', 'archived', 'failed', 'training', 'queued', 'completed', 'cancelled'))
);
-- At most one active model per model type, enforced by the database itself.
CREATE UNIQUE INDEX uq_models_one_active_per_type ON models (model_type) WHERE status = 'active';
CREATE INDEX ix_models_status ON models (status);

CREATE TABLE training_runs (
    id                   INTEGER NOT NULL PRIMARY KEY,
    model_id             INTEGER,
    run_type             VARCHAR(32)  NOT NULL,
    status               VARCHAR(9)   NOT NULL DEFAULT 'queued',
    started_at           DATETIME,
    completed_at         DATETIME,
    match_count          INTEGER,
    date_from            DATE,
    date_to              DATE,
    brier_score          DOUBLE,
    log_loss             DOUBLE,
    validation_accuracy  DOUBLE,
    error_message        TEXT,
    logs                 JSON,
    -- added by the service
    task_id              VARCHAR(64)  NOT NULL,
    rps                  DOUBLE,
    metrics              JSON,
    config               JSON         NOT NULL DEFAULT '{}',
    progress             DOUBLE NOT NULL DEFAULT 0,
    phase                VARCHAR(64),
    message              TEXT,
    worker               VARCHAR(255),
    heartbeat_at         DATETIME,
    cancel_requested     BOOLEAN      NOT NULL DEFAULT 0,
    created_at           DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_training_runs_task_id UNIQUE (task_id),
    CONSTRAINT fk_training_runs_model FOREIGN KEY (model_id) REFERENCES models (id) ON DELETE SET NULL,
    CONSTRAINT ck_training_runs_progress CHECK (progress >= 0 AND progress <= 100),
    CONSTRAINT model_status CHECK (status IN ('active', 'archived', 'failed', 'training', 'queued', 'completed', 'cancelled'))
);
CREATE INDEX ix_training_runs_status ON training_runs (status);
CREATE INDEX ix_training_runs_created_at ON training_runs (created_at);
CREATE INDEX ix_training_runs_model_id ON training_runs (model_id);
