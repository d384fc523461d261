-- 0008: each match's shots on target (football-data's HST and AST), which the parser reads
-- and `fpe backtest` uses from the files, are stored with the match, so that training runs,
-- which read their matches from the database, have them too.  NULL where the file has none
-- (older seasons, a blank cell).  Matches ingested before this migration have NULL here
-- until their file is ingested again (the re-ingest updates them like a corrected file).

ALTER TABLE matches ADD COLUMN home_shots_on_target SMALLINT;
ALTER TABLE matches ADD COLUMN away_shots_on_target SMALLINT;
