-- 0007: BetBrain's maximum pre-match prices (BbMx*, files to 2018/19) get their own
-- columns: until now they were stored as max_pre, football-data's own maximum (Max*, from
-- 2019/20), a maximum over another set of books, so two sources went under one name.  Files
-- ingested before this migration keep their BetBrain prices in max_pre until they are
-- ingested again.

ALTER TABLE match_odds ADD COLUMN bbmax_pre_h DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbmax_pre_d DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbmax_pre_a DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbmax_pre_over25 DOUBLE PRECISION;
ALTER TABLE match_odds ADD COLUMN bbmax_pre_under25 DOUBLE PRECISION;
