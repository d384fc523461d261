-- 0003: an active model per model type and league set (its scope), the data and validation
-- windows each version was fitted and scored on, and its held-out forecasts of the
-- validation matches (what versions are compared on before one replaces another).

ALTER TABLE models ADD COLUMN scope VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN data_from DATE;
ALTER TABLE models ADD COLUMN data_to DATE;
ALTER TABLE models ADD COLUMN validation_from DATE;
ALTER TABLE models ADD COLUMN validation_to DATE;
ALTER TABLE models ADD COLUMN validation_matches INTEGER;
ALTER TABLE models ADD COLUMN validation_forecasts JSONB;
-- the scope of earlier versions: their leagues, sorted and comma-separated
UPDATE models SET scope = COALESCE(
    (SELECT string_agg(code, ',' ORDER BY code)
     FROM jsonb_array_elements_text(training_leagues) AS code),
    ''
) WHERE jsonb_typeof(training_leagues) = 'array';
DROP INDEX uq_models_one_active_per_type;
-- At most one active model per model type and scope, enforced by the database itself.
CREATE UNIQUE INDEX uq_models_one_active_per_scope ON models (model_type, scope)
    WHERE status = 'active';
