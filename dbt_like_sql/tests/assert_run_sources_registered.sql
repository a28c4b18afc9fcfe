-- Every headline run names a source that is a row of `sources`.
select r.run_id, r.source_id
from training_runs as r
anti join sources as s using (source_id)
where r.source_id is not null
