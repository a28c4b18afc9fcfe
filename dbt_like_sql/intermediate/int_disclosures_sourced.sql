-- Figures joined to their source document: URL and publication date from the registry, or from the
-- figure itself for sources outside the registry (Hub cards at a revision); the snapshot the figure
-- was read from, or the stored snapshot of its document when the ingest stage fetched it.
select
    f.* exclude (snapshot_sha256),
    coalesce(f.snapshot_sha256, d.snapshot_sha256) as snapshot_sha256,
    coalesce(f.source_url, s.url) as resolved_source_url,
    s.published_date as source_published_date,
    s.organization as source_organization
from stg_figures__normalized as f
left join stg_registry__sources as s using (source_id)
left join document_snapshots as d using (source_id)
