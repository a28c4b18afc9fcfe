-- Source documents from the registry (data/sources/registry.yaml): rename and cast only.
select
    source_id,
    title,
    organization,
    cast(published_date as varchar) as published_date,
    kind,
    url,
    fetch_url,
    license,
    verified_in
from source_registry
