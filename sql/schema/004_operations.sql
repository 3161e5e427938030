-- Operating Stent (issue 5): the stable, documented views people query with psql.
-- Placeholder: filled in by the views work.
SELECT 1;

---- create above / drop below ----

SELECT 1;
