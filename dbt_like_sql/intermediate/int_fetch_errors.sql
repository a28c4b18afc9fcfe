-- Documents, Hub cards and daily-dump shards the last refresh could not fetch or read, with the reason; retried
-- next refresh.
select quarantine_id as fetch_error_id, source_id, locator as url, reason
from (
    select * from document_fetch_errors
    union all by name
    select * from hub_fetch_errors
    union all by name
    select * from inference_fetch_errors
    union all by name
    select * from hub_dump_errors
)
order by fetch_error_id
