-- Published: everything that could not be used, with the stage that rejected it and why.
select quarantine_id, pipeline_stage, source_id, locator, item, reason
from normalize_quarantine
order by quarantine_id
