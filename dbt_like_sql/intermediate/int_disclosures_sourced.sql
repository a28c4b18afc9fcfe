-- Figures joined to their source document: URL and publication date from the registry, or from the
-- figure itself for sources outside the registry (Hub cards at a revision).
select
    f.*,
    coalesce(f.source_url, s.url) as resolved_source_url,
    s.published_date as source_published_date,
    s.organization as source_organization
from stg_figures__normalized as f
left join stg_registry__sources as s using (source_id)
