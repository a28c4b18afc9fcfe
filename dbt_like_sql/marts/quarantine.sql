-- Published: everything that could not be used, with the stage that rejected it and why: documents and
-- Hub cards that could not be fetched, card and table content that could not be read, table values that
-- disagree with the curated figures, and figures whose value or unit could not be normalized.
select quarantine_id, pipeline_stage, source_id, locator, item, reason
from (
    select * from document_fetch_errors
    union all by name
    select * from hub_fetch_errors
    union all by name
    select * from card_quarantine
    union all by name
    select * from paper_table_quarantine
    union all by name
    select * from normalize_quarantine
)
qualify row_number() over (partition by quarantine_id order by pipeline_stage) = 1
order by quarantine_id
