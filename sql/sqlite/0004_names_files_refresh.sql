-- 0004: files, freshness, team names and the scheduled refresh.
-- * team_aliases: other names of a team ("Spurs" for Tottenham), by country and the team's
--   stored name (not its id, so that the common ones are seeded before any team exists);
--   alias_key is the alias's canonical form without regard to case (teamnames.team_key).
-- * leagues.last_ingest_at: when a file of the league was last ingested.
-- * training_runs.scheduled: the run was started by the scheduled refresh.

CREATE TABLE team_aliases (
    id          INTEGER NOT NULL PRIMARY KEY,
    alias       VARCHAR(100) NOT NULL,
    alias_key   VARCHAR(100) NOT NULL,
    country     VARCHAR(100) NOT NULL,
    team_name   VARCHAR(100) NOT NULL,
    created_at  DATETIME     NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    CONSTRAINT uq_team_aliases_country_key UNIQUE (country, alias_key)
);

ALTER TABLE leagues ADD COLUMN last_ingest_at DATETIME;
ALTER TABLE training_runs ADD COLUMN scheduled BOOLEAN NOT NULL DEFAULT 0;

INSERT INTO team_aliases (alias, alias_key, country, team_name) VALUES
    ('Spurs', 'spurs', 'England', 'Tottenham'),
    ('Tottenham Hotspur', 'tottenham hotspur', 'England', 'Tottenham'),
    ('Man Utd', 'man utd', 'England', 'Man United'),
    ('Manchester United', 'manchester united', 'England', 'Man United'),
    ('Man U', 'man u', 'England', 'Man United'),
    ('Manchester City', 'manchester city', 'England', 'Man City'),
    ('Wolverhampton', 'wolverhampton', 'England', 'Wolves'),
    ('Wolverhampton Wanderers', 'wolverhampton wanderers', 'England', 'Wolves'),
    ('Nottingham Forest', 'nottingham forest', 'England', 'Nott''m Forest'),
    ('Newcastle United', 'newcastle united', 'England', 'Newcastle'),
    ('West Ham United', 'west ham united', 'England', 'West Ham'),
    ('West Bromwich Albion', 'west bromwich albion', 'England', 'West Brom'),
    ('Brighton and Hove Albion', 'brighton and hove albion', 'England', 'Brighton'),
    ('Brighton & Hove Albion', 'brighton & hove albion', 'England', 'Brighton'),
    ('Sheffield Utd', 'sheffield utd', 'England', 'Sheffield United'),
    ('Sheffield Wednesday', 'sheffield wednesday', 'England', 'Sheffield Weds'),
    ('Leicester City', 'leicester city', 'England', 'Leicester'),
    ('Leeds United', 'leeds united', 'England', 'Leeds'),
    ('Queens Park Rangers', 'queens park rangers', 'England', 'QPR'),
    ('Peterborough', 'peterborough', 'England', 'Peterboro'),
    ('MK Dons', 'mk dons', 'England', 'Milton Keynes Dons'),
    ('Ipswich Town', 'ipswich town', 'England', 'Ipswich'),
    ('Luton Town', 'luton town', 'England', 'Luton'),
    ('Norwich City', 'norwich city', 'England', 'Norwich'),
    ('AFC Bournemouth', 'afc bournemouth', 'England', 'Bournemouth'),
    ('Bayern', 'bayern', 'Germany', 'Bayern Munich'),
    ('Bayern München', 'bayern münchen', 'Germany', 'Bayern Munich'),
    ('Eintracht Frankfurt', 'eintracht frankfurt', 'Germany', 'Ein Frankfurt'),
    ('Köln', 'köln', 'Germany', 'FC Koln'),
    ('Cologne', 'cologne', 'Germany', 'FC Koln'),
    ('Gladbach', 'gladbach', 'Germany', 'M''gladbach'),
    ('Borussia Monchengladbach', 'borussia monchengladbach', 'Germany', 'M''gladbach'),
    ('Borussia Mönchengladbach', 'borussia mönchengladbach', 'Germany', 'M''gladbach'),
    ('Leipzig', 'leipzig', 'Germany', 'RB Leipzig'),
    ('Borussia Dortmund', 'borussia dortmund', 'Germany', 'Dortmund'),
    ('BVB', 'bvb', 'Germany', 'Dortmund'),
    ('Bayer Leverkusen', 'bayer leverkusen', 'Germany', 'Leverkusen'),
    ('Atletico Madrid', 'atletico madrid', 'Spain', 'Ath Madrid'),
    ('Atlético Madrid', 'atlético madrid', 'Spain', 'Ath Madrid'),
    ('Athletic Bilbao', 'athletic bilbao', 'Spain', 'Ath Bilbao'),
    ('Real Sociedad', 'real sociedad', 'Spain', 'Sociedad'),
    ('Espanyol', 'espanyol', 'Spain', 'Espanol'),
    ('Rayo Vallecano', 'rayo vallecano', 'Spain', 'Vallecano'),
    ('Real Betis', 'real betis', 'Spain', 'Betis'),
    ('Celta Vigo', 'celta vigo', 'Spain', 'Celta'),
    ('PSG', 'psg', 'France', 'Paris SG'),
    ('Paris Saint-Germain', 'paris saint-germain', 'France', 'Paris SG'),
    ('Saint-Etienne', 'saint-etienne', 'France', 'St Etienne'),
    ('Olympique Lyonnais', 'olympique lyonnais', 'France', 'Lyon'),
    ('Olympique de Marseille', 'olympique de marseille', 'France', 'Marseille'),
    ('Inter Milan', 'inter milan', 'Italy', 'Inter'),
    ('Internazionale', 'internazionale', 'Italy', 'Inter'),
    ('AC Milan', 'ac milan', 'Italy', 'Milan'),
    ('Juve', 'juve', 'Italy', 'Juventus'),
    ('PSV', 'psv', 'Netherlands', 'PSV Eindhoven'),
    ('AZ', 'az', 'Netherlands', 'AZ Alkmaar'),
    ('Fortuna Sittard', 'fortuna sittard', 'Netherlands', 'For Sittard');
