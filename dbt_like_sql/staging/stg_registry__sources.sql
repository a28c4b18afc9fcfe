-- Source documents: the registry (data/sources/registry.yaml) and the Hub cards the parser read.
-- Rename and cast only.
with documents as (
    select *, cast(null as varchar) as snapshot_sha256 from source_registry
    union all by name
    select * from card_sources
)

select
    source_id,
    title,
    organization,
    cast(published_date as varchar) as published_date,
    kind,
    url,
    fetch_url,
    license,
    verified_in,
    verification,
    verification_note,
    snapshot_sha256
from documents
