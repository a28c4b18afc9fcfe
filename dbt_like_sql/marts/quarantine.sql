-- Published: content that could not be used, with the stage that rejected it and why: card and table
-- content that could not be read, table values that disagree with the curated figures, figures whose
-- value or unit could not be normalized. (Documents and cards that could not be fetched are a state of
-- the network, not of the data: they are in the warehouse table int_fetch_errors and retried next refresh.)
select quarantine_id, pipeline_stage, source_id, locator, item, reason
from (
    select * from card_quarantine
    union all by name
    select * from paper_table_quarantine
    union all by name
    select * from normalize_quarantine
    union all by name
    select * from epoch_quarantine
    union all by name
    select * from inference_quarantine
)
qualify row_number() over (partition by quarantine_id order by pipeline_stage) = 1
order by quarantine_id
