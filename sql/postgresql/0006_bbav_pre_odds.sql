-- 0006: BetBrain's average pre-match prices (BbAv*, files to 2018/19) get their own
-- columns: until now they were stored as avg_pre, football-data's own average (Avg*, from
-- 2019/20), so two sources went under one name.  Files ingested before this migration keep
-- their BetBrain prices in avg_pre until they are ingested again.

ALTER TABLE match_odds ADD COLUMN bbav_pre_h DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbav_pre_d DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbav_pre_a DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbav_pre_over25 DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbav_pre_under25 DOUBLE PRECISION;
